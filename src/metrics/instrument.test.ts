// The ChatModel decorator around the real offline model, read through streamWithin as the chat
// service reads it: what a whole reply, and a reply its reader stops early, record.
import { describe, expect, it } from 'vitest';
import { replyWithin, streamWithin } from '../llm/chat-model.ts';
import { createOfflineChatModel } from '../llm/offline-chat-model.ts';
import { instrumentChatModel } from './instrument.ts';
import { createMetrics } from './metrics.ts';

const request = { systemPrompt: 'You are a pirate.', history: [], message: 'Where is the treasure?' };

/** The value of one sample line of the exposition, e.g. `llm_request_duration_seconds_count{provider="offline",outcome="ok"}`. */
async function value(metrics: ReturnType<typeof createMetrics>, line: string): Promise<number | undefined> {
  const found = (await metrics.render()).split('\n').find((l) => l.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

describe('instrumentChatModel', () => {
  it('records a whole reply as ok, with its first token, and passes the deltas through unchanged', async () => {
    const metrics = createMetrics();
    const model = createOfflineChatModel();
    const instrumented = instrumentChatModel(model, metrics);
    expect(instrumented.provider).toBe('offline');
    expect(await replyWithin(instrumented, request, 5_000)).toBe(await replyWithin(model, request, 5_000));

    expect(await value(metrics, 'llm_request_duration_seconds_count{provider="offline",outcome="ok"}')).toBe(1);
    expect(await value(metrics, 'llm_time_to_first_token_seconds_count{provider="offline"}')).toBe(1);
  });

  it('records a reply whose reader stopped early as cancelled, once', async () => {
    const metrics = createMetrics();
    const instrumented = instrumentChatModel(createOfflineChatModel(), metrics);
    for await (const delta of streamWithin(instrumented, request, 5_000)) {
      expect(delta).toBeTruthy();
      break;
    }
    expect(await value(metrics, 'llm_request_duration_seconds_count{provider="offline",outcome="cancelled"}')).toBe(1);
    expect(await value(metrics, 'llm_request_duration_seconds_count{provider="offline",outcome="ok"}')).toBeUndefined();
  });

  it('records a reply without visible text as an error, as streamWithin judges it', async () => {
    const metrics = createMetrics();
    // The offline model cut to no words at all writes nothing.
    const instrumented = instrumentChatModel(createOfflineChatModel({ maxOutputTokens: 0 }), metrics);
    await expect(replyWithin(instrumented, request, 5_000)).rejects.toThrow(/returned no text/);
    expect(await value(metrics, 'llm_request_duration_seconds_count{provider="offline",outcome="error"}')).toBe(1);
    expect(await value(metrics, 'llm_time_to_first_token_seconds_count{provider="offline"}')).toBeUndefined();
  });
});
