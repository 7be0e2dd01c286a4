import { DrizzleQueryError } from 'drizzle-orm';
import { describe, expect, it } from 'vitest';
import { LlmError } from '../errors.ts';
import { streamErrorBody } from './event-stream.ts';

describe('streamErrorBody', () => {
  it('reports a database out of reach mid-stream as 503, without the SQL or its parameters', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' });
    const err = new DrizzleQueryError('insert into chat_messages values ($1)', ['secret user text'], refused);
    const body = streamErrorBody(err);
    expect(body.statusCode).toBe(503);
    expect(body.error).toBe('Service Unavailable');
    expect(body.message).toMatch(/database/);
    expect(body.message).not.toMatch(/insert|secret/);
  });

  it('keeps our own errors, and hides anything else behind a 500', () => {
    expect(streamErrorBody(new LlmError('gemini', 'timeout', 'the LLM timed out')).statusCode).toBe(504);
    const bug = streamErrorBody(new TypeError('x is undefined'));
    expect(bug).toEqual({ statusCode: 500, error: 'Internal Server Error', message: 'Internal Server Error' });
  });
});
