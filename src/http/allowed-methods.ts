// Which methods a path has, for the 405 Method Not Allowed answer and its Allow header.
//
// Fastify's router only answers "this method on this URL, or nothing", and app.findRoute/hasRoute
// look up route patterns, not URLs. So this plugin keeps a second find-my-way router, filled from
// onRoute with every route the app declares, and asks it about each method. It is find-my-way, the
// router Fastify itself uses (pinned to the version Fastify resolves), with Fastify's router options,
// so a URL matches here exactly when it matches there: params, the /audio/* wildcard, trailing
// slashes and case alike.
//
// Register it before any plugin that declares routes (CORS declares OPTIONS *): onRoute only sees
// the routes declared after it.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import FindMyWay, { type HTTPMethod } from 'find-my-way';

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * The methods the app routes on this URL's path (the query is ignored), in the usual order:
     * GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS, then any others. Empty when no route matches
     * the path, or only CORS's catch-all OPTIONS * does: such a path does not exist.
     */
    allowedMethods(url: string): string[];
  }
}

const ORDER = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'];
const rank = (method: string) => {
  const i = ORDER.indexOf(method);
  return i === -1 ? ORDER.length : i;
};
const byUsualOrder = (a: string, b: string) => rank(a) - rank(b) || a.localeCompare(b);

const noop = () => {};

async function allowedMethodsPlugin(app: FastifyInstance) {
  const config = app.initialConfig;
  const router = FindMyWay({
    caseSensitive: config.caseSensitive,
    ignoreTrailingSlash: config.ignoreTrailingSlash,
    ignoreDuplicateSlashes: config.ignoreDuplicateSlashes,
    maxParamLength: config.maxParamLength,
    allowUnsafeRegex: config.allowUnsafeRegex,
    // Missing from find-my-way's Config type, though its constructor reads it.
    ...({ useSemicolonDelimiter: config.useSemicolonDelimiter } as object),
  });
  const methods = new Set<HTTPMethod>();

  const add = (method: HTTPMethod, url: string, constraints: Record<string, unknown> | undefined) => {
    if (router.hasRoute(method, url, constraints)) return;
    router.on(method, url, constraints ? { constraints } : {}, noop);
    methods.add(method);
  };

  app.addHook('onRoute', (route) => {
    const constraints = route.constraints as Record<string, unknown> | undefined;
    for (const method of [route.method].flat() as HTTPMethod[]) {
      add(method, route.url, constraints);
      // A plugin's '/' route answers at '/prefix' and at '/prefix/', but onRoute is told of the
      // first only (prefixTrailingSlash 'both', Fastify's default).
      if (route.routePath === '' && route.prefix && (route.prefixTrailingSlash ?? 'both') === 'both' && !config.ignoreTrailingSlash) {
        add(method, `${route.url}/`, constraints);
      }
    }
  });

  app.decorate('allowedMethods', (url: string): string[] => {
    const allowed = [...methods].filter((method) => router.find(method, url) !== null);
    if (!allowed.some((method) => method !== 'OPTIONS')) return [];
    return allowed.sort(byUsualOrder);
  });
}

export const allowedMethods = fp(allowedMethodsPlugin, { name: 'allowed-methods' });
