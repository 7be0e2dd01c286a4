// The streamed-reply reader, fed Responses whose bodies are cut at awkward places, as a network may.
import { describe, expect, it } from 'vitest';
import { base64ToBytes, readReplyStream, StreamError, type AudioSegment } from './event-stream.ts';

const encoder = new TextEncoder();

function event(name: string, data: unknown): string {
  return `event: ${name}\ndata: ${JSON.stringify(data)}\n\n`;
}

/** A Response whose body delivers these byte chunks, then ends (or errors, or stays open). */
function responseOf(chunks: Uint8Array[], end: 'close' | 'error' | 'open' = 'close'): Response {
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(chunk);
      if (end === 'close') controller.close();
      if (end === 'error') controller.error(new TypeError('network error'));
    },
  });
  return new Response(body, { headers: { 'content-type': 'text/event-stream' } });
}

/** The text's bytes cut into pieces of `size` bytes (so multi-byte characters get split too). */
function split(text: string, size: number): Uint8Array[] {
  const bytes = encoder.encode(text);
  const out: Uint8Array[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.slice(i, i + size));
  return out;
}

/** The text's bytes cut just after each of the given substrings' first character. */
function cutAt(text: string, ...marks: string[]): Uint8Array[] {
  const points = marks.map((m) => {
    const i = text.indexOf(m);
    if (i < 0) throw new Error(`no ${m} in the fixture`);
    return i + 1;
  });
  const out: Uint8Array[] = [];
  let from = 0;
  for (const p of [...points.sort((a, b) => a - b), text.length]) {
    out.push(encoder.encode(text.slice(from, p)));
    from = p;
  }
  return out;
}

function recorder() {
  const deltas: string[] = [];
  const segments: AudioSegment[] = [];
  return { deltas, segments, handlers: { text: (d: string) => deltas.push(d), audio: (s: AudioSegment) => segments.push(s) } };
}

const session = { id: 's1', messages: [{ role: 'assistant', content: 'Héllo, wörld 👋' }] };

const reply =
  ': ping\n\n' +
  event('text', { delta: 'Héllo' }) +
  event('text', { delta: ', wörld' }) +
  ': ping\n\n' +
  event('audio', { index: 0, text: 'Héllo, wörld', audio: 'SUQz' }) +
  event('text', { delta: ' 👋' }) +
  event('audio', { index: 1, text: '👋', audio: null, error: 'synthesis failed' }) +
  event('done', session);

describe('readReplyStream', () => {
  const cuts: Array<[string, Uint8Array[]]> = [
    ['in one chunk', [encoder.encode(reply)]],
    ['mid-line and mid-JSON', cutAt(reply, 'ent: text', 'delta', 'wörld', '"index"', 'synthesis', '"messages"')],
    ['one byte at a time', split(reply, 1)],
    ['in chunks of 7 bytes', split(reply, 7)],
    ['with CRLF line endings, one byte at a time', split(reply.replaceAll('\n', '\r\n'), 1)],
    ['with CR line endings in chunks of 3 bytes', split(reply.replaceAll('\n', '\r'), 3)],
  ];
  for (const [name, chunks] of cuts) {
    it(`reads deltas, audio segments and done ${name}`, async () => {
      const { deltas, segments, handlers } = recorder();
      const done = await readReplyStream<typeof session>(responseOf(chunks), handlers);
      expect(deltas).toEqual(['Héllo', ', wörld', ' 👋']);
      expect(segments).toEqual([
        { index: 0, text: 'Héllo, wörld', audio: 'SUQz' },
        { index: 1, text: '👋', audio: null, error: 'synthesis failed' },
      ]);
      expect(done).toEqual(session);
    });
  }

  it('calls the handlers as events arrive, before the body ends', async () => {
    let controller!: ReadableStreamDefaultController<Uint8Array>;
    const body = new ReadableStream<Uint8Array>({ start: (c) => void (controller = c) });
    let firstDelta!: () => void;
    const gotDelta = new Promise<void>((resolve) => (firstDelta = resolve));
    const deltas: string[] = [];
    const reading = readReplyStream(new Response(body), {
      text: (d) => {
        deltas.push(d);
        firstDelta();
      },
      audio: () => {},
    });
    controller.enqueue(encoder.encode(event('text', { delta: 'early' })));
    await gotDelta;
    expect(deltas).toEqual(['early']);
    controller.enqueue(encoder.encode(event('done', { ok: true })));
    controller.close();
    await expect(reading).resolves.toEqual({ ok: true });
  });

  it('rejects with a StreamError carrying the error event', async () => {
    const { deltas, handlers } = recorder();
    const body =
      event('text', { delta: 'partial' }) +
      event('error', { statusCode: 429, error: 'Too Many Requests', message: 'The model is busy.' });
    const error = await readReplyStream(responseOf(split(body, 5)), handlers).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(StreamError);
    expect(error).toMatchObject({ statusCode: 429, error: 'Too Many Requests', message: 'The model is busy.', name: 'StreamError' });
    expect(deltas).toEqual(['partial']);
  });

  it('stops at done and ignores anything after it', async () => {
    const { deltas, handlers } = recorder();
    const body = event('done', { n: 1 }) + event('text', { delta: 'late' });
    await expect(readReplyStream(responseOf([encoder.encode(body)], 'open'), handlers)).resolves.toEqual({ n: 1 });
    expect(deltas).toEqual([]);
  });

  it('ignores unknown and unnamed events, comments and ids', async () => {
    const { deltas, handlers } = recorder();
    const body =
      ':ping\n: ping\n\n' +
      event('usage', { tokens: 3 }) +
      'data: {"delta":"unnamed"}\n\n' +
      'id: 7\nretry: 1000\n' +
      event('text', { delta: 'kept' }) +
      event('done', {});
    await expect(readReplyStream(responseOf(split(body, 4)), handlers)).resolves.toEqual({});
    expect(deltas).toEqual(['kept']);
  });

  it('rejects when the body ends without done', async () => {
    const { deltas, handlers } = recorder();
    const body = event('text', { delta: 'cut' }) + 'event: done\ndata: {"id":';
    await expect(readReplyStream(responseOf(split(body, 3)), handlers)).rejects.toThrow(/ended before it was done/);
    expect(deltas).toEqual(['cut']);
  });

  it('rejects when the body is empty', async () => {
    await expect(readReplyStream(responseOf([]), recorder().handlers)).rejects.toThrow(/ended before it was done/);
  });

  it('rejects when the body errors mid-stream', async () => {
    const chunks = [encoder.encode(event('text', { delta: 'a' }))];
    await expect(readReplyStream(responseOf(chunks, 'error'), recorder().handlers)).rejects.toThrow(/broke off/);
  });

  it('rejects with a clear Error on malformed JSON in a known event', async () => {
    const body = 'event: text\ndata: {"delta": "unterminated\n\n' + event('done', {});
    const error = await readReplyStream(responseOf([encoder.encode(body)]), recorder().handlers).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(StreamError);
    expect((error as Error).message).toMatch(/malformed JSON in a "text" event/);
  });

  it('rejects on an event whose JSON has the wrong shape', async () => {
    const cases = [
      event('text', { delta: 5 }),
      event('audio', { index: 0, text: 'x' }),
      event('audio', { index: '0', text: 'x', audio: null }),
      event('error', { message: 'no status' }),
    ];
    for (const body of cases) {
      await expect(readReplyStream(responseOf([encoder.encode(body)]), recorder().handlers)).rejects.toThrow(/malformed/);
    }
  });

  it('rejects with the abort reason when the signal aborts mid-stream', async () => {
    const controller = new AbortController();
    const reason = new Error('user stopped');
    const reading = readReplyStream(responseOf([encoder.encode(event('text', { delta: 'a' }))], 'open'), {
      text: () => controller.abort(reason),
      audio: () => {},
    }, controller.signal);
    await expect(reading).rejects.toBe(reason);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const signal = AbortSignal.abort(new Error('already'));
    await expect(readReplyStream(responseOf([encoder.encode(event('done', {}))]), recorder().handlers, signal)).rejects.toThrow('already');
  });

  it('propagates a handler that throws and stops reading', async () => {
    const body = event('text', { delta: 'a' }) + event('text', { delta: 'b' }) + event('done', {});
    let calls = 0;
    const failing = {
      text: () => {
        calls++;
        throw new Error('handler broke');
      },
      audio: () => {},
    };
    await expect(readReplyStream(responseOf([encoder.encode(body)]), failing)).rejects.toThrow('handler broke');
    expect(calls).toBe(1);
  });
});

describe('base64ToBytes', () => {
  it('round-trips bytes 0-255', () => {
    const all = Array.from({ length: 256 }, (_, i) => i);
    const b64 = btoa(String.fromCharCode(...all));
    const bytes = base64ToBytes(b64);
    expect(bytes).toBeInstanceOf(Uint8Array);
    expect(Array.from(bytes)).toEqual(all);
  });

  it('decodes a known value and the empty string', () => {
    expect(Array.from(base64ToBytes('SUQz'))).toEqual([0x49, 0x44, 0x33]);
    expect(base64ToBytes('')).toHaveLength(0);
  });

  it('throws on text that is not base64', () => {
    expect(() => base64ToBytes('not base64!')).toThrow();
  });
});
