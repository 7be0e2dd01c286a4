// Turns Ajv's errors into one sentence that says exactly what was wrong with the request,
// e.g. `body/voice_id must be string or null` or `body has an unknown field "voiceId"`.
import type { FastifySchemaValidationError } from 'fastify/types/schema.js';
import { NO_CONTROL_CHARACTERS, NON_BLANK } from './schemas.ts';

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
    case 'additionalProperties':
      return `${where} has an unknown field "${String(e.params.additionalProperty)}"`;
    case 'required':
      return `${where} must have the field "${String(e.params.missingProperty)}"`;
    case 'pattern':
      // The patterns of http/schemas.ts, in words; any other in Ajv's.
      if (e.params.pattern === NON_BLANK) return `${where} must not be empty or whitespace only`;
      if (e.params.pattern === NO_CONTROL_CHARACTERS) return `${where} must not contain control characters`;
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
