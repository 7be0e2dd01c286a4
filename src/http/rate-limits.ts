// The two rate limits, counted with @fastify/rate-limit's stores (in memory, or Redis to share the
// counts between instances). The plugin's own hook runs one limit per request and stops at the
// first; a message must count against both limits, so each limit is a createRateLimit() check and
// this module answers for both: the headers of the tighter one, and a 429 that names the one hit.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Redis } from 'ioredis';
import { RateLimitedError } from '../errors.ts';

export interface RateLimitSettings {
  /** Every /api request; undefined for no limit. */
  perMinute: number | undefined;
  /** Also messages and voice previews; undefined for no limit. */
  messagesPerMinute: number | undefined;
  /** Shared counts; undefined keeps them in this process. */
  redis: Redis | undefined;
}

/** Checks the limits for a request, sets the x-ratelimit headers, and throws RateLimitedError past one. */
export type RateLimiter = (req: FastifyRequest, reply: FastifyReply, opts: { messages: boolean }) => Promise<void>;

interface Limit {
  name: string;
  variable: string;
  check: (req: FastifyRequest) => Promise<{ max: number; remaining: number; ttlInSeconds: number; isExceeded: boolean }>;
}

/**
 * Registers the store and returns the limiter, or undefined when no limit is set. `who` names what
 * a request is counted as: its principal, or its client address.
 */
export async function createRateLimiter(
  app: FastifyInstance,
  settings: RateLimitSettings,
  who: (req: FastifyRequest) => string,
): Promise<RateLimiter | undefined> {
  if (settings.perMinute === undefined && settings.messagesPerMinute === undefined) return undefined;
  await app.register(rateLimit, {
    global: false,
    timeWindow: 60_000,
    ...(settings.redis ? { redis: settings.redis, nameSpace: 'chat-api-rate:' } : {}),
    // A Redis outage must not take the API down with it: the request goes through uncounted (and
    // ioredis's error listener in the wiring says so in the log).
    skipOnError: true,
  });

  const limit = (name: string, variable: string, max: number): Limit => ({
    name,
    variable,
    // The name is part of the key: both limits share one store.
    check: app.createRateLimit({ max, timeWindow: 60_000, keyGenerator: (req) => `${name}:${who(req)}` }) as Limit['check'],
  });
  const api = settings.perMinute !== undefined ? limit('requests', 'RATE_LIMIT_PER_MINUTE', settings.perMinute) : undefined;
  const messages =
    settings.messagesPerMinute !== undefined
      ? limit('messages', 'MESSAGE_RATE_LIMIT_PER_MINUTE', settings.messagesPerMinute)
      : undefined;

  return async (req, reply, opts) => {
    let tightest: { max: number; remaining: number; ttlInSeconds: number } | undefined;
    for (const l of opts.messages ? [api, messages] : [api]) {
      if (!l) continue;
      const result = await l.check(req);
      if (result.isExceeded) {
        setHeaders(reply, { ...result, remaining: 0 });
        throw new RateLimitedError(
          `rate limit reached: ${result.max} ${l.name} per minute (${l.variable}); retry in ${Math.max(1, result.ttlInSeconds)} s`,
          result.ttlInSeconds,
        );
      }
      if (!tightest || result.remaining < tightest.remaining) tightest = result;
    }
    if (tightest) setHeaders(reply, tightest);
  };
}

function setHeaders(reply: FastifyReply, r: { max: number; remaining: number; ttlInSeconds: number }) {
  reply.header('x-ratelimit-limit', r.max).header('x-ratelimit-remaining', r.remaining).header('x-ratelimit-reset', r.ttlInSeconds);
}
