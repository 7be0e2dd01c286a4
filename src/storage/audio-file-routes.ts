// Serves the local audio store at GET/HEAD /audio/{key}, the URLs that FileAudioStore.url hands out.
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync } from 'fastify';
import fp from 'fastify-plugin';
import { basename, dirname } from 'node:path';
import { NotFoundError } from '../errors.ts';
import { isAudioKey } from './audio-key.ts';
import { AUDIO_CACHE_CONTROL, AUDIO_CONTENT_TYPE } from './audio-store.ts';
import { AUDIO_ROUTE_PREFIX, type FileAudioStore } from './file-audio-store.ts';

export interface AudioFileRoutesOptions {
  store: FileAudioStore;
  /** Leave the route out of the OpenAPI document. Default false. */
  hide?: boolean;
}

const audioFileRoutesPlugin: FastifyPluginAsync<AudioFileRoutesOptions> = async (app, opts) => {
  const { store } = opts;

  // @fastify/static (through @fastify/send) gives ETag, Last-Modified, If-None-Match → 304 and
  // single byte ranges (206, 416). Registered in a child context so its `sendFile` decorator stays
  // private to this route and cannot clash with another registration of the plugin.
  await app.register(async (child) => {
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

    // HEAD declared explicitly, so it works even in an app built with exposeHeadRoutes: false.
    child.route<{ Params: { '*': string } }>({
      method: ['GET', 'HEAD'],
      url: `${AUDIO_ROUTE_PREFIX}/*`,
      schema: {
        hide: opts.hide ?? false,
        tags: ['audio'],
        summary: 'Download the MP3 of a model message',
        description:
          'The audio_url of a model message when audio is stored locally. Immutable and cacheable for a year; ' +
          'supports ETag / If-None-Match and byte ranges. Any path that is not an audio key is a 404.',
        params: {
          type: 'object',
          properties: {
            '*': { type: 'string', description: 'The audio key, e.g. audio/espeak-v1-mp3/<64 hex>.mp3' },
          },
          required: ['*'],
        },
      },
      handler: async (request, reply) => {
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
    });
  });
};

export const audioFileRoutes = fp(audioFileRoutesPlugin, { name: 'audio-file-routes', fastify: '5.x' });
