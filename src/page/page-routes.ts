// The chat page (web/, built by Vite into dist/web): GET / and its assets, from this origin only.
// Every route here answers with a strict Content-Security-Policy through @fastify/helmet, so that
// nothing but the page's own script runs even if a reply's markdown slipped something past the
// renderer. The API's JSON routes and /docs (Swagger UI needs inline code) keep their own headers.
import { existsSync } from 'node:fs';
import path from 'node:path';
import helmet from '@fastify/helmet';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';

export interface PageOptions {
  /** The built page: index.html, favicon.svg and assets/ (npm run build:web). */
  dir: string;
  /**
   * Origins besides this one that audio may come from: the S3 bucket or CDN of the reply URLs.
   * Voice previews redirect there too, and a media element follows the redirect under media-src.
   */
  mediaOrigins: string[];
}

/** The Content-Security-Policy of the page (also what the tests check, directive by directive). */
export function pageDirectives(mediaOrigins: string[]): Record<string, string[] | null> {
  return {
    'default-src': ["'none'"],
    'script-src': ["'self'"],
    'style-src': ["'self'"],
    'img-src': ["'self'"],
    // Streamed segments play from blob: URLs made of the audio events' bytes.
    'media-src': ["'self'", 'blob:', ...mediaOrigins],
    'connect-src': ["'self'"],
    'manifest-src': ["'self'"],
    'base-uri': ["'none'"],
    'form-action': ["'self'"],
    'frame-ancestors': ["'none'"],
    'object-src': ["'none'"],
    // Helmet adds upgrade-insecure-requests by default; it would turn an http:// audio origin (a
    // local S3-compatible store, a test server) into https:// and break its playback.
    'upgrade-insecure-requests': null,
  };
}

const config = { access: 'public' } as const;

export const pageRoutes: FastifyPluginAsync<PageOptions> = async (app: FastifyInstance, opts) => {
  const built = existsSync(path.join(opts.dir, 'index.html'));
  if (!built) app.log.warn({ dir: opts.dir }, 'the web page is not built (npm run build:web): GET / answers 503');

  // Registered inside this plugin, so its headers go on this plugin's routes alone.
  await app.register(helmet, {
    contentSecurityPolicy: { useDefaults: false, directives: pageDirectives(opts.mediaOrigins) },
  });
  // sendFile only: the routes are declared below, each with its access rule and its helmet.
  // preCompressed serves the .br or .gz sibling that the build wrote, by the request's
  // Accept-Encoding, with the original's Content-Type.
  await app.register(fastifyStatic, { root: opts.dir, serve: false, preCompressed: true });

  const notBuilt = {
    statusCode: 503,
    error: 'Service Unavailable',
    message: 'The web page is not built: run `npm run build:web` (npm ci does it), then restart the API.',
  };
  const schema = { hide: true };

  app.get('/', { config, schema }, (_req, reply) => {
    if (!built) return reply.code(503).send(notBuilt);
    // The page names its hashed assets, so it is checked on every load; the assets never change.
    return reply.sendFile('index.html', { cacheControl: false }).header('cache-control', 'no-cache');
  });
  app.get('/favicon.svg', { config, schema }, (_req, reply) =>
    reply.sendFile('favicon.svg', { maxAge: '1d' }),
  );
  app.get<{ Params: { '*': string } }>('/assets/*', { config, schema }, (req, reply) =>
    reply.sendFile(path.posix.join('assets', req.params['*']), { maxAge: '365d', immutable: true }),
  );
};
