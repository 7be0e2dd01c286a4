// Who may call what. Every route says in its config who may call it (`access`), and the app refuses
// to start with a route that does not, so that no route is ever open by omission. One onRequest
// hook, before the body is read, does the rest, in this order:
//   1. the principal, from `Authorization: Bearer` (or the local admin in AUTH_MODE=none);
//   2. the rate limits, counted per principal, or per client address when there is none (so a
//      flood of bad credentials is limited too);
//   3. the rule: 401 without a valid credential, 403 for a user on an admin route.
// Ownership is not checked here: services pass the principal's owner to every query.
import type { FastifyInstance, FastifyRequest, RouteOptions } from 'fastify';
import fp from 'fastify-plugin';
import { Type } from 'typebox';
import type { Authenticator } from '../access/credentials.ts';
import { LOCAL_ADMIN, type Principal } from '../access/principal.ts';
import { ForbiddenError, UnauthorizedError } from '../errors.ts';
import { createRateLimiter, type RateLimitSettings } from './rate-limits.ts';
import { errorResponse } from './schemas.ts';

/** public: anyone; authenticated: any principal, user or admin; admin: admins only. */
export type Access = 'public' | 'authenticated' | 'admin';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** Who may call the route. Required on every route (see access.ts). */
    access?: Access;
    /** Also counted by MESSAGE_RATE_LIMIT_PER_MINUTE: the routes that cost money. */
    messageLimited?: boolean;
  }
  interface FastifyRequest {
    /** Set before the handler runs on every route that is not public. */
    principal: Principal | undefined;
  }
  interface FastifyInstance {
    /** Every route with its rule, in registration order: what the access matrix test walks. */
    accessRules: ReadonlyArray<AccessRule>;
  }
}

export interface AccessRule {
  method: string;
  url: string;
  access: Access;
  messageLimited: boolean;
}

export type AccessOptions = (
  | { mode: 'none' }
  | { mode: 'required'; authenticator: Authenticator }
) & { rateLimits: RateLimitSettings };

/** The principal of a request on a route that is not public. */
export function principalOf(req: FastifyRequest): Principal {
  if (!req.principal) throw new Error(`no principal on ${req.method} ${req.url}: the route's access rule is missing`);
  return req.principal;
}

const BEARER = /^Bearer +([^\s]+) *$/i;

async function accessPlugin(app: FastifyInstance, opts: AccessOptions) {
  const rules: AccessRule[] = [];
  app.decorate('accessRules', rules);
  app.decorateRequest('principal', undefined);

  app.addHook('onRoute', (route) => {
    const access = route.config?.access ?? (isDocsRoute(route.url) ? 'public' : undefined);
    if (!access) throw new Error(`route ${String(route.method)} ${route.url} has no access rule: set config.access`);
    route.config = { ...route.config, access };
    const messageLimited = route.config.messageLimited === true;
    for (const method of [route.method].flat()) rules.push({ method, url: route.url, access, messageLimited });
    document(route, access);
  });

  // Counted by principal, or by address when there is none, or in AUTH_MODE=none where every client
  // shares the one local principal.
  const who = (req: FastifyRequest) => req.principal?.subject ?? `ip:${req.ip}`;
  const limiter = await createRateLimiter(app, opts.rateLimits, who);

  app.addHook('onRequest', async (req, reply) => {
    const config = req.routeOptions.config;
    // No rule: an unknown route (the not-found handler answers it), or the CORS preflight, which
    // @fastify/cors adds before this plugin and which browsers send without credentials.
    if (!config.access) return;
    let problem: Error | undefined;
    const header = req.headers.authorization;
    const limited = limiter !== undefined && req.routeOptions.url?.startsWith('/api/') === true;
    if (opts.mode === 'none') {
      req.principal = LOCAL_ADMIN;
    } else if (config.access !== 'public' || (limited && header !== undefined)) {
      // A public route reads a credential only to count its limits per principal.
      const credential = header === undefined ? undefined : BEARER.exec(header)?.[1];
      if (header === undefined) {
        problem = new UnauthorizedError('missing credential: send Authorization: Bearer <API key or token>');
      } else if (credential === undefined) {
        problem = new UnauthorizedError("malformed Authorization header: send 'Bearer <API key or token>'");
      } else {
        try {
          req.principal = await opts.authenticator.authenticate(credential);
        } catch (err) {
          problem = err as Error;
        }
      }
    }

    if (limited) {
      await limiter!(req, reply, { messages: config.messageLimited === true });
    }

    // A public route serves anyone, whatever credential came with the request.
    if (config.access === 'public') return;
    if (problem) throw problem;
    if (config.access === 'admin' && req.principal?.role !== 'admin') {
      throw new ForbiddenError(`${req.method} ${req.routeOptions.url} needs an admin credential`);
    }
  });
}

// Routes that @fastify/swagger-ui adds for the documentation page.
const isDocsRoute = (url: string) => url === '/docs' || url.startsWith('/docs/');

/**
 * The OpenAPI document follows the rules: a protected route gets the bearer requirement and its
 * 401 (and 403 for admin routes), every /api route its 429. Written here so that it cannot drift
 * from what the hook does.
 */
function document(route: RouteOptions, access: Access) {
  const schema = route.schema;
  if (!schema || schema.hide) return;
  const responses = (schema.response ??= {}) as Record<string, unknown>;
  const add = (entries: Record<number, unknown>) => {
    for (const [code, response] of Object.entries(entries)) responses[code] ??= response;
  };
  if (access === 'public') {
    schema.security = [];
  } else {
    schema.security = [{ bearer: [] }];
    add(errorResponse(401, 'No valid credential: send Authorization: Bearer <API key or token>', {
      headers: { 'www-authenticate': Type.String({ description: 'Bearer, with error="invalid_token" for a refused JWT' }) },
    }));
    if (access === 'admin') add(errorResponse(403, 'The credential is not an admin\'s'));
    add(errorResponse(503, "A JWT could not be checked: the identity provider's key set (AUTH_JWKS_URL) is out of reach; retry later"));
  }
  if (route.url.startsWith('/api/')) {
    const limits = route.config?.messageLimited
      ? 'RATE_LIMIT_PER_MINUTE or MESSAGE_RATE_LIMIT_PER_MINUTE'
      : 'RATE_LIMIT_PER_MINUTE';
    add(errorResponse(429, `A rate limit (${limits}) was reached; message names it`, {
      headers: {
        'retry-after': Type.Integer({ minimum: 1, description: 'Seconds until the limit resets' }),
        'x-ratelimit-limit': Type.Integer({ description: 'Requests allowed per minute' }),
        'x-ratelimit-remaining': Type.Integer({ description: 'Requests left in this minute' }),
        'x-ratelimit-reset': Type.Integer({ description: 'Seconds until the count resets' }),
      },
    }));
  }
}

export const access = fp(accessPlugin, { name: 'access' });
