// The edges of HTTP, through a real listening server: requests that Node's parser or Fastify's
// router refuse before any route runs, methods a path does not have, and the request id. Malformed
// framing and oversized heads cannot be made with inject() or fetch(), so requests are written by
// hand on raw sockets.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../support/test-app.ts';

let t: TestApp;
let port: number;
beforeAll(async () => {
  t = await startTestApp();
  port = Number(new URL(await t.app.listen({ host: '127.0.0.1', port: 0 })).port);
});
afterAll(() => t?.close());

interface RawResponse {
  status: number;
  reason: string;
  headers: Record<string, string>;
  text: string;
  json: () => Record<string, unknown>;
}

/** Parses the responses a connection received, in order (a head, then content-length bytes). */
function parseResponses(bytes: Buffer): RawResponse[] {
  const responses: RawResponse[] = [];
  let rest = bytes;
  while (rest.length > 0) {
    const headEnd = rest.indexOf('\r\n\r\n');
    if (headEnd === -1) throw new Error(`incomplete response head: ${JSON.stringify(rest.toString('latin1'))}`);
    const [statusLine, ...lines] = rest.subarray(0, headEnd).toString('latin1').split('\r\n');
    const m = /^HTTP\/1\.1 (\d{3}) (.*)$/.exec(statusLine!);
    if (!m) throw new Error(`not a status line: ${statusLine}`);
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? 0);
    const text = rest.subarray(headEnd + 4, headEnd + 4 + length).toString('utf8');
    responses.push({ status: Number(m[1]), reason: m[2]!, headers, text, json: () => JSON.parse(text) });
    rest = rest.subarray(headEnd + 4 + length);
  }
  return responses;
}

/**
 * Writes bytes on a fresh connection and reads until the server closes it. Every request written
 * here asks for connection: close, or is one the server must refuse by closing.
 */
function exchange(bytes: string | Buffer): Promise<{ responses: RawResponse[]; closedByServer: boolean }> {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server kept the connection open'));
    }, 10_000);
    socket.on('data', (chunk) => chunks.push(chunk));
    // A server that closes while we still write makes EPIPE or ECONNRESET here; what it sent counts.
    socket.on('error', () => {});
    socket.on('close', () => {
      clearTimeout(timer);
      try {
        resolve({ responses: parseResponses(Buffer.concat(chunks)), closedByServer: true });
      } catch (err) {
        reject(err as Error);
      }
    });
    socket.write(bytes);
  });
}

async function only(bytes: string | Buffer): Promise<RawResponse> {
  const { responses } = await exchange(bytes);
  expect(responses).toHaveLength(1);
  return responses[0]!;
}

function request(method: string, path: string, headers: Record<string, string> = {}, body = ''): string {
  const lines = [`${method} ${path} HTTP/1.1`, 'host: 127.0.0.1', 'connection: close'];
  for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
  if (body) lines.push(`content-length: ${Buffer.byteLength(body)}`);
  return `${lines.join('\r\n')}\r\n\r\n${body}`;
}

/** The error shape, exactly: these three keys and nothing else (no Fastify `code`). */
function expectErrorShape(res: RawResponse, status: number, error: string) {
  expect(res.status).toBe(status);
  expect(res.headers['content-type']).toBe('application/json; charset=utf-8');
  expect(Buffer.byteLength(res.text)).toBe(Number(res.headers['content-length']));
  const body = res.json();
  expect(Object.keys(body).sort()).toEqual(['error', 'message', 'statusCode']);
  expect(body).toMatchObject({ statusCode: status, error });
  return body.message as string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
const SOME_ID = '6f1c5a1e-2b9a-4c1e-9a51-1d2f3e4a5b6c';
const AUDIO_KEY = `espeak-v1-mp3/${'ab'.repeat(32)}.mp3`;

describe('requests the router refuses', () => {
  it('answers an id of 10,000 characters with 414 in the error shape, naming the limit', async () => {
    const res = await only(request('GET', `/api/personas/${'a'.repeat(10_000)}`));
    const message = expectErrorShape(res, 414, 'URI Too Long');
    expect(message).toMatch(/^the URL path \/api\/personas\/a{46}\.\.\. has a segment of 10000 characters/);
    expect(message).toContain('path parameters are at most 100 characters');
    expect(res.headers['x-request-id']).toMatch(UUID);
  });

  it('answers broken percent-encoding with 400 in the error shape', async () => {
    const res = await only(request('GET', '/api/chat/%zz'));
    const message = expectErrorShape(res, 400, 'Bad Request');
    expect(message).toBe('the URL path /api/chat/%zz is not valid: each % must start a percent-encoded byte such as %20');
  });
});

describe("requests Node's HTTP parser refuses", () => {
  /** A raw answer: the error shape, and the connection closed after it. */
  async function refused(bytes: string | Buffer, status: number, error: string) {
    const { responses, closedByServer } = await exchange(bytes);
    expect(closedByServer).toBe(true);
    // The last answer on the connection is the refusal; nothing can follow a framing error.
    const res = responses.at(-1)!;
    expect(res.reason).toBe(error);
    expect(res.headers.connection).toBe('close');
    return expectErrorShape(res, status, error);
  }

  it('answers a Content-Length shorter than the body with 400 naming the framing problem', async () => {
    const body = JSON.stringify({ name: 'Framed' });
    const bytes =
      'POST /api/personas HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n' +
      `content-length: 5\r\n\r\n${body}`;
    const message = await refused(bytes, 400, 'Bad Request');
    expect(message).toContain('not valid HTTP/1.1');
    expect(message).toContain('HPE_INVALID_METHOD');
    expect(message).toContain('Content-Length shorter than the body');
  });

  it('answers Content-Length with Transfer-Encoding, or a bad Content-Length, with 400 naming the header', async () => {
    const both = await refused(
      'POST /api/personas HTTP/1.1\r\nhost: x\r\ncontent-length: 1\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n',
      400,
      'Bad Request',
    );
    expect(both).toContain('HPE_INVALID_TRANSFER_ENCODING');
    expect(both).toContain('never both');

    const notANumber = await refused('POST /api/personas HTTP/1.1\r\nhost: x\r\ncontent-length: ten\r\n\r\n', 400, 'Bad Request');
    expect(notANumber).toContain('HPE_INVALID_CONTENT_LENGTH');
    expect(notANumber).toContain('Content-Length');

    const chunk = await refused(
      'POST /api/personas HTTP/1.1\r\nhost: x\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n',
      400,
      'Bad Request',
    );
    expect(chunk).toContain('HPE_INVALID_CHUNK_SIZE');
  });

  it('answers bytes that are not HTTP with 400 in the error shape', async () => {
    const message = await refused('HELLO\r\n\r\n', 400, 'Bad Request');
    expect(message).toContain('not valid HTTP/1.1');

    const space = await refused('GET /api/personas and more HTTP/1.1\r\nhost: x\r\n\r\n', 400, 'Bad Request');
    expect(space).toContain('percent-encoded');
  });

  it('answers a 100 KB URL with 414 and 100 KB of headers with 431, naming the 16 KB limit', async () => {
    const url = await refused(request('GET', `/api/personas?q=${'a'.repeat(100_000)}`), 414, 'URI Too Long');
    expect(url).toBe('the URL is too long: the request line and headers may take at most 16384 bytes');

    const headers = await refused(
      request('GET', '/api/personas', { 'x-padding': 'a'.repeat(100_000) }),
      431,
      'Request Header Fields Too Large',
    );
    expect(headers).toBe('the request headers are too large: the request line and headers may take at most 16384 bytes');
  });

  it('keeps serving after clients that hang up in the middle of a bad request', async () => {
    for (let i = 0; i < 5; i++) {
      const socket = net.connect(port, '127.0.0.1');
      socket.on('error', () => {});
      socket.write(`GET /${'a'.repeat(30_000)}`);
      socket.destroy();
    }
    const res = await only(request('GET', '/healthz'));
    expect(res.status).toBe(200);
  });
});

describe('a known path with another method', () => {
  async function notAllowed(method: string, path: string, allow: string) {
    const res = await only(request(method, path));
    expect(res.headers.allow).toBe(allow);
    const message = expectErrorShape(res, 405, 'Method Not Allowed');
    expect(message).toBe(`method ${method} is not allowed on ${path.split('?')[0]}; allowed: ${allow}`);
    expect(res.headers['x-request-id']).toMatch(UUID);
  }

  it('answers 405 with an Allow header listing the methods the path has', async () => {
    await notAllowed('PUT', '/api/personas', 'GET, HEAD, POST');
    await notAllowed('DELETE', '/api/voices', 'GET, HEAD');
    await notAllowed('OPTIONS', '/api/voices', 'GET, HEAD');
    await notAllowed('POST', '/healthz', 'GET, HEAD');
    await notAllowed('PUT', '/api/personas?mine=1', 'GET, HEAD, POST');
  });

  it('matches paths with params and the /audio/* wildcard the way the router does', async () => {
    await notAllowed('POST', `/api/chat/${SOME_ID}`, 'GET, HEAD, DELETE');
    await notAllowed('PUT', `/api/personas/${SOME_ID}`, 'GET, HEAD, PATCH, DELETE');
    await notAllowed('GET', `/api/chat/${SOME_ID}/message`, 'POST');
    await notAllowed('DELETE', `/audio/${AUDIO_KEY}`, 'GET, HEAD');
    await notAllowed('PUT', '/audio/anything/at/all', 'GET, HEAD');
  });

  it('answers HEAD on a path without GET with 405 and no body', async () => {
    const res = await only(request('HEAD', `/api/chat/${SOME_ID}/message`));
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('POST');
    expect(res.text).toBe('');
  });

  it('answers 405 whatever body came with the request', async () => {
    const plain = await only(request('PUT', '/api/personas', { 'content-type': 'text/plain' }, 'name=x'));
    expect(plain.status).toBe(405);
    const broken = await only(request('PATCH', '/api/chat', { 'content-type': 'application/json' }, '{"persona'));
    expect(broken.status).toBe(405);
    expect(broken.headers.allow).toBe('GET, HEAD, POST');
  });

  it('still answers 404 for paths no route has, and for an allowed method that finds nothing', async () => {
    for (const [method, path] of [
      ['GET', '/api/nothing'],
      ['PUT', '/api/nothing'],
      ['DELETE', '/api/personas/a/b'],
      ['POST', '/api/chats'],
      ['GET', '/audio'],
      ['GET', '/audio/not-a-key'],
    ] as const) {
      const res = await only(request(method, path));
      expect(res.headers.allow).toBeUndefined();
      expect(expectErrorShape(res, 404, 'Not Found')).toBe(`Route ${method} ${path} not found`);
    }
    const withBody = await only(request('POST', '/api/nothing', { 'content-type': 'application/json' }, '{"broken'));
    expect(withBody.status).toBe(404);
  });

  it('lists OPTIONS in Allow when CORS answers preflights, and does not make unknown paths exist', async () => {
    const withCors = await startTestApp({ CORS_ORIGINS: 'http://localhost:5173' });
    try {
      const put = await withCors.app.inject({ method: 'PUT', url: '/api/personas' });
      expect(put.statusCode).toBe(405);
      expect(put.headers.allow).toBe('GET, HEAD, POST, OPTIONS');
      const unknown = await withCors.app.inject({ method: 'GET', url: '/api/nothing' });
      expect(unknown.statusCode).toBe(404);
      expect(unknown.headers.allow).toBeUndefined();
    } finally {
      await withCors.close();
    }
  });
});

describe('x-request-id', () => {
  const idOf = async (value: string | Buffer) => {
    const head = Buffer.concat([
      Buffer.from('GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\nx-request-id: '),
      Buffer.from(value),
      Buffer.from('\r\n\r\n'),
    ]);
    const res = await only(head);
    expect(res.status).toBe(200);
    return res.headers['x-request-id']!;
  };

  it("echoes a client's short id made of safe characters", async () => {
    for (const id of ['abc-123', SOME_ID, '01J9ZQ4X3K8V7YB2M5N6P0R1ST', 'trace_01.ab:cd', 'x'.repeat(128)]) {
      expect(await idOf(id)).toBe(id);
    }
  });

  it('replaces a 6 KB id with a UUID, and never logs the 6 KB', async () => {
    const id = await idOf('q'.repeat(6 * 1024));
    expect(id).toMatch(UUID);
    expect(await idOf('q'.repeat(129))).toMatch(UUID);
    expect(t.logs.some((line) => line.reqId === id)).toBe(true);
    expect(JSON.stringify(t.logs)).not.toContain('q'.repeat(129));
  });

  it('replaces ids with unsafe characters with a UUID', async () => {
    for (const unsafe of ['abc def', 'a"b', 'a,b', 'a/b', 'a\tb', '<script>', 'id%0d%0a', Buffer.from('caf\xe9', 'latin1')]) {
      expect(await idOf(unsafe)).toMatch(UUID);
    }
    // A repeated header reaches the app joined with ", ", which is not an id either.
    const res = await only(request('GET', '/healthz', { 'x-request-id': 'one' }).replace('\r\n\r\n', '\r\nx-request-id: two\r\n\r\n'));
    expect(res.headers['x-request-id']).toMatch(UUID);
  });

  it('gives refused requests an id too', async () => {
    const res = await only(request('PUT', '/api/voices', { 'x-request-id': 'mine-405' }));
    expect(res.status).toBe(405);
    expect(res.headers['x-request-id']).toBe('mine-405');
    const long = await only(request('GET', `/api/chat/${'b'.repeat(500)}`, { 'x-request-id': 'mine-414' }));
    expect(long.status).toBe(414);
    expect(long.headers['x-request-id']).toBe('mine-414');
  });
});
