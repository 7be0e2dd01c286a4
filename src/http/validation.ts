// Turns Ajv's errors into one sentence that says exactly what was wrong with the request,
// e.g. `body/voice_id must be string or null` or `body has an unknown field "voiceId"`; and builds
// the validators, which coerce query strings and nothing else.
import { AjvCompiler } from '@fastify/ajv-compiler';
import type { FastifySchemaValidationError } from 'fastify/types/schema.js';
import { NO_CONTROL_CHARACTERS, NON_BLANK, PRINTABLE_ASCII } from './schemas.ts';

// Fastify's own factory (a transitive dependency of fastify, pinned by its lock entry): one Ajv per
// set of options, with the same formats and defaults as when Fastify builds it itself.
const ajvPool = AjvCompiler();
type BuildValidator = ReturnType<typeof AjvCompiler>;

/**
 * The app's `ajv` options for bodies, params and headers (no coercion: a number is not a message),
 * and the same options with coercion for query strings, whose values are always strings: `?limit=50`
 * must validate as the integer the schema (and the OpenAPI document) says. An empty or fractional
 * value is not coerced and is refused like any other wrong type.
 *
 * Limit: with a custom factory Fastify no longer lower-cases the keys of request-header schemas, so
 * such a schema must name headers in lower case.
 */
export const buildValidator: BuildValidator = (externalSchemas, options) => {
  // The app never uses JTD mode: its options are plain Ajv options.
  const ajv = options as { customOptions?: object } | undefined;
  const strict = ajvPool(externalSchemas, options);
  const coercing = ajvPool(externalSchemas, { ...ajv, customOptions: { ...ajv?.customOptions, coerceTypes: true } } as typeof options);
  // Fastify calls the compiler with the route's definition ({ schema, httpPart, ... }), which the
  // published type calls a schema: it is passed on unchanged.
  return (route) => ((route as { httpPart?: string }).httpPart === 'querystring' ? coercing : strict)(route);
};

type Part = 'body' | 'params' | 'querystring' | 'headers' | string;

export function describeValidationErrors(errors: FastifySchemaValidationError[], part: Part): string {
  const where = (e: FastifySchemaValidationError) => `${part}${e.instancePath ?? ''}`;

  // A union (anyOf) reports one error per branch. When a branch had the right type but failed a
  // constraint (too long, blank), that constraint is the real problem; otherwise list the types.
  // A union of literals ('admin' or 'user') reports one const error per branch: list the values.
  const consts = errors.filter((e) => e.keyword === 'const');
  if (consts.length > 1 && consts.length === errors.filter((e) => e.keyword !== 'anyOf').length) {
    return `${where(consts[0]!)} must be one of ${consts.map((e) => JSON.stringify(e.params.allowedValue)).join(', ')}`;
  }
  const specific = errors.find((e) => e.keyword !== 'type' && e.keyword !== 'anyOf');
  if (specific) return sentence(specific, where(specific));
  const types = [...new Set(errors.filter((e) => e.keyword === 'type').map((e) => String(e.params.type)))];
  const first = errors[0];
  if (!first) return `${part} is invalid`;
  return `${where(first)} must be ${types.join(' or ') || 'valid'}`;
}

function sentence(e: FastifySchemaValidationError, where: string): string {
  switch (e.keyword) {
    case 'additionalProperties': {
      const what = where.startsWith('querystring') ? 'parameter' : 'field';
      return `${where} has an unknown ${what} "${String(e.params.additionalProperty)}"`;
    }
    case 'required':
      return `${where} must have the field "${String(e.params.missingProperty)}"`;
    case 'pattern':
      // The patterns of http/schemas.ts, in words; any other in Ajv's.
      if (e.params.pattern === NON_BLANK) return `${where} must not be empty or whitespace only`;
      if (e.params.pattern === NO_CONTROL_CHARACTERS) return `${where} must not contain control characters`;
      if (e.params.pattern === PRINTABLE_ASCII) return `${where} must contain printable ASCII characters only (space to ~)`;
      return `${where} ${e.message ?? 'is invalid'}`;
    case 'minLength':
      return e.params.limit === 1 ? `${where} must not be empty` : `${where} ${e.message ?? 'is too short'}`;
    case 'minProperties':
      return `${where} must contain at least one field to change`;
    case 'format':
      return e.params.format === 'uuid' ? `${where} must be a UUID` : `${where} must be a ${String(e.params.format)}`;
    default:
      return `${where} ${e.message ?? 'is invalid'}`;
  }
}

export function formatValidationErrors(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const err = new Error(describeValidationErrors(errors, dataVar)) as Error & { statusCode: number };
  err.statusCode = 400;
  return err;
}
