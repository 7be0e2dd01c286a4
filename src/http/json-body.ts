// How the API reads JSON bodies: Fastify's own parser (which guards against prototype poisoning),
// with two differences that spare clients confusing errors.
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import { BadRequestError } from '../errors.ts';

/** The path of the first string in a parsed body that holds a NUL character, if any. */
export function findNul(value: unknown, path = 'body'): string | undefined {
  if (typeof value === 'string') return value.includes('\u0000') ? path : undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const found = findNul(value[i], `${path}/${i}`);
      if (found) return found;
    }
  } else if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      const found = findNul(item, `${path}/${key}`);
      if (found) return found;
    }
  }
  return undefined;
}

async function jsonBodyPlugin(app: FastifyInstance) {
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeContentTypeParser('application/json');
  app.addContentTypeParser('application/json', { parseAs: 'string' }, (req, raw, done) => {
    const body = raw.toString();
    // Many HTTP clients send content-type: application/json on every request, bodiless DELETEs
    // included. An empty body is no body, not invalid JSON.
    if (body.trim() === '') return done(null, undefined);
    parseJson(req, body, (err, parsed) => {
      if (err) return done(err, undefined);
      // PostgreSQL text cannot hold U+0000. Refuse it here, by name, rather than fail at the insert
      // after the LLM has already been paid for.
      const nul = findNul(parsed);
      if (nul) return done(new BadRequestError(`${nul} must not contain the NUL character (\\u0000)`), undefined);
      done(null, parsed);
    });
  });
}

export const jsonBody = fp(jsonBodyPlugin, { name: 'json-body' });
