// GET /metrics after a real flow: the Polly, S3 and Gemini protocol servers on loopback, driven by the
// real SDK clients, and the counts the API exposes checked against what those servers received.
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { awsTestEnv } from '../support/aws-env.ts';
import { eventsNamed, postStream } from '../support/event-stream-client.ts';
import { startGeminiServer, type GeminiServer } from '../support/gemini-server.ts';
import { startPollyServer, type PollyServer } from '../support/polly-server.ts';
import { startS3Server, type S3TestServer } from '../support/s3-server.ts';
import { startTestApp, type TestApp } from '../support/test-app.ts';

const ADMIN_API_KEY = 'metrics-test-admin-key-0123456789abcdef';
const admin = { authorization: `Bearer ${ADMIN_API_KEY}` };
const ENGINE = 'polly-neural-mp3';

/** The contract: every name with its type. */
const CONTRACT = {
  http_request_duration_seconds: 'histogram',
  llm_request_duration_seconds: 'histogram',
  llm_time_to_first_token_seconds: 'histogram',
  speech_cache_lookups_total: 'counter',
  speech_characters_synthesized_total: 'counter',
  speech_synthesis_duration_seconds: 'histogram',
  speech_synthesis_failures_total: 'counter',
  speech_time_to_first_audio_seconds: 'histogram',
} as const;

let s3: S3TestServer;
let polly: PollyServer;
let gemini: GeminiServer;
let t: TestApp;
let base: string;

beforeAll(async () => {
  [s3, polly, gemini] = await Promise.all([startS3Server(), startPollyServer(), startGeminiServer()]);
  t = await startTestApp(
    {
      ...awsTestEnv({ s3, polly, gemini }),
      HOST: '127.0.0.1',
      AUTH_MODE: 'required',
      ADMIN_API_KEY,
      RATE_LIMIT_PER_MINUTE: '100000',
      MESSAGE_RATE_LIMIT_PER_MINUTE: '100000',
      LLM_TIMEOUT_MS: '1500',
      // A voice Polly has, but not on the neural engine: it answers EngineNotSupportedException, a
      // 400 the SDK does not retry, so one failed call is one failed request at the server. Sessions
      // without a persona use it; the others have a neural voice.
      DEFAULT_POLLY_VOICE_ID: 'Nicole',
    },
    // The failed reply's audio job is not retried while the test runs, so the counts stay put.
    { wiring: { audioJobs: { baseDelayMs: 600_000 } } },
  );
  base = await t.app.listen({ port: 0, host: '127.0.0.1' });
});
afterAll(async () => {
  await t?.close();
  await Promise.all([s3?.close(), polly?.close(), gemini?.close()]);
});

async function call(method: 'GET' | 'POST', url: string, payload?: object, headers: Record<string, string> = admin) {
  return t.app.inject({ method, url, headers, ...(payload ? { payload } : {}) });
}
async function session(personaId: string | null): Promise<string> {
  const res = await call('POST', '/api/chat', { persona_id: personaId });
  expect(res.statusCode).toBe(201);
  return res.json().session_id;
}
async function post(id: string, reply: string | null, status = 200) {
  if (reply !== null) gemini.nextReply(reply);
  const res = await call('POST', `/api/chat/${id}/message`, { message: 'hello' });
  expect(res.statusCode, res.body).toBe(status);
  return res.statusCode === 200 ? (res.json().history.at(-1) as { audio_url: string | null }) : undefined;
}

/** One sample of the exposition: its value, or undefined when no line has exactly these labels. */
function sample(text: string, name: string, labels: Record<string, string> = {}): number | undefined {
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const found = Object.fromEntries([...(match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1], m[2]]));
    const same = Object.keys(found).length === Object.keys(labels).length && Object.entries(labels).every(([k, v]) => found[k] === v);
    if (same) return Number(match[3]);
  }
  return undefined;
}
/** Every label set of a metric's samples. */
function series(text: string, name: string): Array<Record<string, string>> {
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`))
    .map((line) => Object.fromEntries([...line.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map((m) => [m[1]!, m[2]!])));
}

async function scrape(): Promise<string> {
  const res = await call('GET', '/metrics');
  expect(res.statusCode).toBe(200);
  expect(res.headers['content-type']).toBe('text/plain; version=0.0.4; charset=utf-8');
  return res.body;
}

const sessionIds: string[] = [];
let streamedFirstAudioMs = 0;

describe('GET /metrics after a flow', () => {
  beforeAll(async () => {
    const persona = await call('POST', '/api/personas', { name: 'Metered', voice_id: 'Matthew' });
    expect(persona.statusCode).toBe(201);
    const [a, b, c] = [await session(persona.json().id), await session(persona.json().id), await session(null)];
    sessionIds.push(a, b, c);

    // A miss, then the same reply in the same voice in another session: a hit, nothing synthesized.
    expect((await post(a, 'The very same reply, twice.'))!.audio_url).not.toBeNull();
    expect((await post(b, 'The very same reply, twice.'))!.audio_url).not.toBeNull();
    // A miss of several segments; the emoji is one character to Polly and two UTF-16 units.
    const long = 'Here is a longer answer 🎉 with a few sentences. ' + 'It keeps going for a while, sentence after sentence. '.repeat(6);
    expect((await post(a, long))!.audio_url).not.toBeNull();
    // A streamed reply: synthesized while it is written, never looked up.
    gemini.nextReply('Streaming now, my friend. The audio follows the words. One more sentence closes it.');
    const started = performance.now();
    const streamed = await postStream(`${base}/api/chat/${b}/message`, { message: 'stream it' }, { headers: admin });
    expect(streamed.status).toBe(200);
    expect(eventsNamed(streamed, 'done')).toHaveLength(1);
    streamedFirstAudioMs = streamed.events.find((e) => e.event === 'audio')!.at - started;
    // Polly refuses the default voice on the neural engine: the reply is kept without audio.
    expect((await post(c, 'This one cannot be spoken.'))!.audio_url).toBeNull();
    // The LLM fails twice: rate limited, then too slow.
    gemini.nextError(429, { retryDelay: '3s' });
    await post(a, null, 429);
    gemini.nextDelay(3_000);
    await post(a, null, 504);
    // Paths that match no route, and a path without this method.
    for (const url of ['/nope/123', '/nope/456', `/api/chat/${a}/nothing`]) expect((await call('GET', url)).statusCode).toBe(404);
    expect((await t.app.inject({ method: 'PUT', url: '/api/personas', headers: admin })).statusCode).toBe(405);
  });

  it('shows every metric of the contract, with its type, and the process metrics', async () => {
    const text = await scrape();
    for (const [name, type] of Object.entries(CONTRACT)) expect(text, name).toContain(`# TYPE ${name} ${type}\n`);
    expect(sample(text, 'process_resident_memory_bytes')).toBeGreaterThan(0);
    expect(sample(text, 'nodejs_eventloop_lag_seconds')).toBeGreaterThanOrEqual(0);
    expect(text).toContain('# TYPE nodejs_gc_duration_seconds histogram');
  });

  it('counts the characters Polly billed, and as many calls and failures as Polly received', async () => {
    const text = await scrape();
    const ok = polly.synthRequests.filter((r) => r.status === 200);
    const failed = polly.synthRequests.filter((r) => r.status !== 200);
    expect(ok.length).toBeGreaterThanOrEqual(5);
    expect(failed.map((r) => [r.status, r.voiceId])).toEqual([[400, 'Nicole']]);
    // Counted as Polly counts: one character, two UTF-16 units.
    expect(ok.some((r) => r.text.includes('🎉'))).toBe(true);

    expect(sample(text, 'speech_characters_synthesized_total', { engine: ENGINE })).toBe(polly.billedCharacters);
    expect(polly.billedCharacters).toBe(ok.reduce((sum, r) => sum + [...r.text].length, 0));
    expect(sample(text, 'speech_synthesis_duration_seconds_count', { engine: ENGINE })).toBe(ok.length);
    expect(sample(text, 'speech_synthesis_failures_total', { engine: ENGINE })).toBe(failed.length);
    expect(sample(text, 'speech_synthesis_duration_seconds_sum', { engine: ENGINE })).toBeGreaterThan(0);
  });

  it('counts one lookup per plain reply: the repeat as a hit, the streamed reply not at all', async () => {
    const text = await scrape();
    // Misses: the first reply, the long one, the one Polly refused. Hit: the repeat.
    expect(sample(text, 'speech_cache_lookups_total', { result: 'miss' })).toBe(3);
    expect(sample(text, 'speech_cache_lookups_total', { result: 'hit' })).toBe(1);
  });

  it('times the LLM by provider and outcome, and its first token', async () => {
    const text = await scrape();
    expect(sample(text, 'llm_request_duration_seconds_count', { provider: 'gemini', outcome: 'ok' })).toBe(5);
    expect(sample(text, 'llm_request_duration_seconds_count', { provider: 'gemini', outcome: 'rate_limited' })).toBe(1);
    expect(sample(text, 'llm_request_duration_seconds_count', { provider: 'gemini', outcome: 'timeout' })).toBe(1);
    // The timeout is recorded at the deadline, not when the slow answer finally came.
    expect(sample(text, 'llm_request_duration_seconds_bucket', { provider: 'gemini', outcome: 'timeout', le: '2' })).toBe(1);
    expect(series(text, 'llm_request_duration_seconds_count').map((s) => s.outcome).sort()).toEqual(['ok', 'rate_limited', 'timeout']);
    expect(sample(text, 'llm_time_to_first_token_seconds_count', { provider: 'gemini' })).toBe(5);
  });

  it("times the streamed reply's first audio from the request's start", async () => {
    const text = await scrape();
    expect(sample(text, 'speech_time_to_first_audio_seconds_count')).toBe(1);
    const seconds = sample(text, 'speech_time_to_first_audio_seconds_sum')!;
    expect(seconds).toBeGreaterThan(0);
    // The server's clock starts after the client's and stops before the event reaches it.
    expect(seconds * 1000).toBeLessThanOrEqual(streamedFirstAudioMs);
  });

  it('labels requests with the route pattern, and the ones that match no route as unmatched', async () => {
    const text = await vi.waitFor(async () => {
      const scraped = await scrape();
      // The streamed POST is counted when its response ends, which the client may see first.
      expect(sample(scraped, 'http_request_duration_seconds_count', { method: 'POST', route: '/api/chat/:session_id/message', status_code: '200' })).toBe(5);
      return scraped;
    });
    // Three sessions, one series.
    const route = '/api/chat/:session_id/message';
    expect(sample(text, 'http_request_duration_seconds_count', { method: 'POST', route, status_code: '429' })).toBe(1);
    expect(sample(text, 'http_request_duration_seconds_count', { method: 'POST', route, status_code: '504' })).toBe(1);
    expect(sample(text, 'http_request_duration_seconds_count', { method: 'GET', route: 'unmatched', status_code: '404' })).toBe(3);
    expect(sample(text, 'http_request_duration_seconds_count', { method: 'PUT', route: 'unmatched', status_code: '405' })).toBe(1);
    const routes = new Set(series(text, 'http_request_duration_seconds_count').map((s) => s.route));
    expect([...routes].sort()).toEqual(['/api/chat', '/api/chat/:session_id/message', '/api/personas', '/metrics', 'unmatched']);
    for (const id of sessionIds) expect(text).not.toContain(id);
  });

  it('needs the admin credential in AUTH_MODE=required', async () => {
    const none = await call('GET', '/metrics', undefined, {});
    expect(none.statusCode).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    const made = await call('POST', '/api/keys', { name: 'a user', role: 'user', owner_id: 'metrics-user' });
    const user = await call('GET', '/metrics', undefined, { authorization: `Bearer ${made.json().key}` });
    expect(user.statusCode).toBe(403);
    expect(user.json().message).toBe('GET /metrics needs an admin credential');
  });

  // Last: it adds to the counts the tests above check.
  it('counts one miss and one synthesis for a new reply posted in several sessions at once', async () => {
    const persona = await call('POST', '/api/personas', { name: 'Crowd', voice_id: 'Amy' });
    const sessions = await Promise.all(Array.from({ length: 4 }, () => session(persona.json().id)));
    const before = await scrape();
    const callsBefore = polly.synthRequests.length;
    gemini.setReply(() => 'Everybody asked the same thing at once.');
    polly.setLatency(() => 300);
    try {
      const replies = await Promise.all(sessions.map((id) => call('POST', `/api/chat/${id}/message`, { message: 'same' })));
      expect(replies.map((r) => r.statusCode)).toEqual([200, 200, 200, 200]);
    } finally {
      gemini.reset();
      polly.setLatency(() => 0);
    }
    const after = await scrape();
    const delta = (labels: Record<string, string>) =>
      sample(after, 'speech_cache_lookups_total', labels)! - sample(before, 'speech_cache_lookups_total', labels)!;
    expect(polly.synthRequests.length - callsBefore).toBe(1);
    expect(delta({ result: 'miss' })).toBe(1);
    // The others shared that work (single-flight, or the audio job another request held), or came
    // after it and found the audio: a hit each, never a miss.
    expect(delta({ result: 'hit' })).toBeLessThanOrEqual(3);
    const engine = { engine: ENGINE };
    expect(
      sample(after, 'speech_synthesis_duration_seconds_count', engine)! - sample(before, 'speech_synthesis_duration_seconds_count', engine)!,
    ).toBe(1);
  });
});

describe('the metrics wiring knob', () => {
  it('serves /metrics to the local admin in AUTH_MODE=none, and nothing at all with metrics: false', async () => {
    const on = await startTestApp();
    try {
      const res = await on.app.inject({ method: 'GET', url: '/metrics' });
      expect(res.statusCode).toBe(200);
      expect(res.body).toContain('# TYPE speech_cache_lookups_total counter');
      expect(sample(res.body, 'speech_cache_lookups_total', { result: 'hit' })).toBe(0);
    } finally {
      await on.close();
    }

    const off = await startTestApp({}, { wiring: { metrics: false } });
    try {
      expect((await off.app.inject({ method: 'GET', url: '/metrics' })).statusCode).toBe(404);
      expect(off.app.accessRules.some((rule) => rule.url === '/metrics')).toBe(false);
      expect(off.product.app.metrics.enabled).toBe(false);
    } finally {
      await off.close();
    }
  });
});
