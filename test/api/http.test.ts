import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.ts';

let t: TestApp;
beforeAll(async () => {
  t = await startTestApp();
});
afterAll(() => t?.close());

describe('service endpoints', () => {
  it('answers /healthz', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz' });
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('publishes an OpenAPI document that lists every route of the contract', async () => {
    const doc = (await t.app.inject({ method: 'GET', url: '/docs/json' })).json();
    const routes = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`),
    );
    expect(routes).toEqual(
      expect.arrayContaining([
        'GET /healthz',
        'GET /api/voices',
        'POST /api/personas',
        'GET /api/personas',
        'GET /api/personas/{id}',
        'PATCH /api/personas/{id}',
        'DELETE /api/personas/{id}',
        'POST /api/chat',
        'GET /api/chat',
        'GET /api/chat/{session_id}',
        'POST /api/chat/{session_id}/message',
        'DELETE /api/chat/{session_id}',
      ]),
    );
    expect(doc.components.schemas).toHaveProperty('ChatSessionResponse');
    const ui = await t.app.inject({ method: 'GET', url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/html/);
  });

  it('answers unknown routes with a 404 in the error shape', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/api/nothing' });
    expect(res.statusCode).toBe(404);
    expect(res.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'Route GET /api/nothing not found' });
  });

  it('gives every response a request id', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz', headers: { 'x-request-id': 'abc-123' } });
    expect(res.headers['x-request-id']).toBe('abc-123');
  });

  it('sends no CORS headers unless CORS_ORIGINS allows an origin', async () => {
    const res = await t.app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'http://localhost:5173' } });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();

    const withCors = await startTestApp({ CORS_ORIGINS: 'http://localhost:5173' });
    try {
      const preflight = await withCors.app.inject({
        method: 'OPTIONS',
        url: '/api/personas',
        headers: { origin: 'http://localhost:5173', 'access-control-request-method': 'POST' },
      });
      expect(preflight.statusCode).toBe(204);
      expect(preflight.headers['access-control-allow-origin']).toBe('http://localhost:5173');
      const other = await withCors.app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'http://evil.example' } });
      expect(other.headers['access-control-allow-origin']).toBeUndefined();
      const allowed = await withCors.app.inject({ method: 'GET', url: '/healthz', headers: { origin: 'http://localhost:5173' } });
      expect(allowed.headers['access-control-expose-headers']).toMatch(/server-timing/);
    } finally {
      await withCors.close();
    }
  });

  it('answers a wrong content type with 415', async () => {
    const res = await t.app.inject({ method: 'POST', url: '/api/personas', headers: { 'content-type': 'text/plain' }, payload: 'name=x' });
    expect(res.statusCode).toBe(415);
    expect(res.json().message).toBe('content-type text/plain is not supported; send application/json');
  });
});
