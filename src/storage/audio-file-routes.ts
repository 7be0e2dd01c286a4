// Serves the local audio store at GET/HEAD /audio/{key}, the URLs that FileAudioStore.url hands out.
import fastifyStatic from '@fastify/static';
import type { SwaggerTransform } from '@fastify/swagger';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { basename, dirname } from 'node:path';
import { NotFoundError } from '../errors.ts';
import { errorResponse, ErrorSchema } from '../http/schemas.ts';
import { AUDIO_KEY_PATTERN, isAudioKey } from './audio-key.ts';
import { AUDIO_CACHE_CONTROL, AUDIO_CONTENT_TYPE } from './audio-store.ts';
import { AUDIO_ROUTE_PREFIX, type FileAudioStore } from './file-audio-store.ts';

export interface AudioFileRoutesOptions {
  store: FileAudioStore;
}

const KEY_DESCRIPTION =
  'The audio key: the path of a local audio_url after /audio/, e.g. espeak-v1-mp3/<64 hex>.mp3. ' +
  "It may contain '/' (the folders of AUDIO_KEY_PREFIX), sent as is or percent-encoded as %2F: " +
  'both name the same file, so a generated client can pass the key as an ordinary path parameter.';

/**
 * Keys contain '/', so the route is a wildcard (/audio/*). @fastify/swagger would publish it as
 * /audio/{*}, a parameter named "*" that no client generator can fill (openapi-fetch then requests
 * /audio/%7B*%7D). The document names it instead: /audio/{key}. This is true to the route, because
 * the router decodes the wildcard: /audio/a%2Fb.mp3, the way clients encode a path parameter,
 * reaches the handler as the key a/b.mp3, exactly like /audio/a/b.mp3 does.
 */
const documentWildcardAsKey: SwaggerTransform = ({ schema, url }) => ({
  url: url.replace(/\*$/, '{key}'),
  schema: {
    ...schema,
    params: {
      type: 'object',
      properties: { key: { type: 'string', pattern: AUDIO_KEY_PATTERN.source, description: KEY_DESCRIPTION } },
      required: ['key'],
    },
  },
});

const mp3 = { 'audio/mpeg': { schema: { type: 'string', format: 'binary' } } };
const header = (description: string, schema: Record<string, unknown> = { type: 'string' }) => ({ ...schema, description });
const validators = {
  etag: header('The validator to send back in If-None-Match'),
  'last-modified': header('When the file was written'),
  'cache-control': header(`${AUDIO_CACHE_CONTROL}: a key never changes its audio`),
};

const responses = {
  200: {
    description: 'The MP3 (for HEAD, its headers without the body)',
    headers: {
      ...validators,
      'content-length': header('Size of the MP3 in bytes', { type: 'integer' }),
      'accept-ranges': header('bytes: single byte ranges are served'),
    },
    content: mp3,
  },
  206: {
    description: 'The byte range asked for with Range',
    headers: {
      ...validators,
      'content-range': header('The range sent and the whole length, e.g. bytes 100-199/48213'),
      'content-length': header('Size of the range in bytes', { type: 'integer' }),
    },
    content: mp3,
  },
  304: {
    description: 'Not modified: If-None-Match named the current ETag',
    headers: validators,
    type: 'null',
  },
  ...errorResponse(
    404,
    'No such audio: the path is not an audio key, or the file does not exist (yet): audio is made when a reply ' +
      'is posted; after a voice change, npm run audio:backfill makes it',
  ),
  ...errorResponse(416, 'The Range cannot be satisfied; Content-Range gives the length', {
    headers: { 'content-range': header('bytes */<length>') },
  }),
};

const audioFileRoutesPlugin: FastifyPluginAsync<AudioFileRoutesOptions> = async (app, opts) => {
  const { store } = opts;

  // @fastify/static (through @fastify/send) gives ETag, Last-Modified, If-None-Match → 304 and
  // single byte ranges (206, 416). Registered in a child context so its `sendFile` decorator stays
  // private to this route and cannot clash with another registration of the plugin.
  await app.register(async (child) => {
    // The error answers refer to the shared Error schema, which the app registers; an app of this
    // route alone (the storage tests) gets it here.
    if (!child.getSchema('Error')) child.addSchema(ErrorSchema);

    // @fastify/send refuses an unsatisfiable Range with an error whose headers carry Content-Range
    // (bytes */<length>). Only Fastify's default error handler copies such headers, so keep them
    // here, then let the app's error handler write the answer (a handler that throws passes the
    // error on to its parent).
    child.setErrorHandler((err: Error & { headers?: Record<string, string> }, _request, reply) => {
      if (err.headers) reply.headers(err.headers);
      throw err;
    });

    await child.register(fastifyStatic, {
      serve: false,
      decorateReply: true,
      acceptRanges: true,
      etag: true,
      lastModified: true,
      contentType: false,
      cacheControl: false,
      dotfiles: 'deny',
      index: false,
      setHeaders(reply) {
        // Runs for 200, 206 and 304; a 304 carries the cache policy but no Content-Type.
        reply.header('cache-control', AUDIO_CACHE_CONTROL);
        if (reply.statusCode !== 304) reply.header('content-type', AUDIO_CONTENT_TYPE);
      },
    });

    // exposeHeadRoute: HEAD answers with the same headers and no body, even in an app built with
    // exposeHeadRoutes: false. Fastify adds it as a route of its own, which the document leaves out
    // like every other route's HEAD.
    child.get<{ Params: { '*': string } }>(
      `${AUDIO_ROUTE_PREFIX}/*`,
      {
        exposeHeadRoute: true,
        // Public: the key is a SHA-256 that nobody can guess without the text and the voice.
        config: { access: 'public', swaggerTransform: documentWildcardAsKey },
        schema: {
          operationId: 'getAudio',
          tags: ['audio'],
          summary: 'Download the MP3 of a model message',
          description:
            'The audio_url of a model message when audio is stored locally. Immutable and cacheable for a year; ' +
            'supports ETag / If-None-Match, byte ranges and HEAD. Any path that is not an audio key is a 404.',
          params: {
            type: 'object',
            properties: { '*': { type: 'string', description: KEY_DESCRIPTION } },
            required: ['*'],
          },
          response: responses,
        },
      },
      async (request, reply) => {
        // The key pattern admits no '.', '..', '%' or empty segments, so nothing outside the store
        // can be named. A 404 rather than a 400: a non-key is simply not a file we have.
        const key = request.params['*'];
        if (!isAudioKey(key)) return reply.callNotFound();
        // A well-formed key without a file: audio for a voice chosen after the reply was written.
        if (!(await store.has(key))) {
          throw new NotFoundError(
            `audio ${key} not found: it is made when a reply is posted; after a voice change, npm run audio:backfill makes it`,
          );
        }
        const path = store.pathOf(key);
        return reply.sendFile(basename(path), dirname(path));
      },
    );
  });
};

export const audioFileRoutes = fp(audioFileRoutesPlugin, { name: 'audio-file-routes', fastify: '5.x' });
