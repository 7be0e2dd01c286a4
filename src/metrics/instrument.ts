// Decorators that report to Metrics what a ChatModel and a Synthesizer do, so that neither the
// providers nor the services know about metrics. wiring.ts applies them when metrics are on.
import { LlmError } from '../errors.ts';
import type { ChatModel, ChatRequest } from '../llm/chat-model.ts';
import type { Synthesizer } from '../speech/synthesizer.ts';
import type { LlmOutcome, Metrics } from './metrics.ts';

/** llm_request_duration_seconds and llm_time_to_first_token_seconds, labelled with model.provider. */
export function instrumentChatModel(model: ChatModel, metrics: Metrics): ChatModel {
  return {
    provider: model.provider,
    description: model.description,
    stream: (request) => observeReply(model, request, metrics),
  };
}

async function* observeReply(model: ChatModel, request: ChatRequest, metrics: Metrics): AsyncGenerator<string, void, undefined> {
  const { provider } = model;
  const start = performance.now();
  const seconds = () => (performance.now() - start) / 1000;
  let outcome: LlmOutcome | undefined;
  const end = (o: LlmOutcome) => {
    if (outcome) return;
    outcome = o;
    metrics.llmRequest(provider, o, seconds());
  };
  // streamWithin aborts the signal at LLM_TIMEOUT_MS and stops waiting for the provider, which may
  // never settle if it ignores the signal: the timeout is recorded when it happens, not then.
  const onAbort = () => end(request.signal.reason instanceof LlmError ? outcomeOf(request.signal.reason) : 'cancelled');
  request.signal.addEventListener('abort', onAbort, { once: true });
  let waiting = true;
  // As streamWithin decides: a reply without a visible character is a failure, whatever the provider said.
  let sawText = false;
  try {
    for await (const delta of model.stream(request)) {
      if (waiting && delta) {
        waiting = false;
        metrics.llmFirstToken(provider, seconds());
      }
      sawText ||= /\S/.test(delta);
      yield delta;
    }
    end(sawText ? 'ok' : 'error');
  } catch (error) {
    end(outcomeOf(error));
    throw error;
  } finally {
    request.signal.removeEventListener('abort', onAbort);
    // Left early by the caller (return()) without an abort.
    end('cancelled');
  }
}

function outcomeOf(error: unknown): LlmOutcome {
  if (!(error instanceof LlmError)) return 'error';
  return error.failure === 'failed' ? 'error' : error.failure;
}

/**
 * speech_characters_synthesized_total, speech_synthesis_duration_seconds and
 * speech_synthesis_failures_total, labelled with the synthesizer's id (polly-neural-mp3,
 * espeak-v1-mp3...): one value per engine and output format, so a bounded set.
 *
 * Characters are counted on calls that returned audio, as Polly bills: a failed call is not billed
 * (the SDK's retries of a throttled call included), and is counted as a failure instead. They are
 * characters (code points), as Polly counts them, not UTF-16 units: an emoji is one.
 */
export function instrumentSynthesizer(synthesizer: Synthesizer, metrics: Metrics): Synthesizer {
  const engine = synthesizer.id;
  return {
    id: engine,
    maxChars: synthesizer.maxChars,
    concurrency: synthesizer.concurrency,
    async synthesize(text, voiceId) {
      const start = performance.now();
      let mp3: Uint8Array;
      try {
        mp3 = await synthesizer.synthesize(text, voiceId);
      } catch (error) {
        metrics.speechSynthesisFailed(engine);
        throw error;
      }
      metrics.speechSynthesized(engine, codePoints(text), (performance.now() - start) / 1000);
      return mp3;
    },
  };
}

function codePoints(text: string): number {
  let count = 0;
  for (const _ of text) count++;
  return count;
}
