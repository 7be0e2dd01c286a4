// The third-party services the API talks to, as real protocol servers on loopback: s3rver for S3,
// the Polly-protocol server with a latency per call, and the Gemini-protocol server whose replies
// each scenario chooses.
import { S3Client } from '@aws-sdk/client-s3';
import { createS3Client } from '../src/storage/s3-audio-store.ts';
import { lastUserText, startGeminiServer, type GeminiServer } from '../test/support/gemini-server.ts';
import { startPollyServer, type PollyServer } from '../test/support/polly-server.ts';
import { S3_SERVER_CREDENTIALS, S3_SERVER_REGION, startS3Server, type S3TestServer } from '../test/support/s3-server.ts';

export interface PollyLatency {
  /** Milliseconds per SynthesizeSpeech call. */
  baseMs: number;
  /** Milliseconds per character of the call's text. */
  perCharMs: number;
}

export const pollyLatencyMs = (latency: PollyLatency, characters: number) => latency.baseMs + latency.perCharMs * characters;

export interface Peers {
  s3: S3TestServer;
  /** An SDK client on s3rver, for seeding audio and for the naive design's HEAD requests. */
  s3Client: S3Client;
  polly: PollyServer;
  gemini: GeminiServer;
  /**
   * The LLM's replies by user message. A message not in the table gets a fixed reply of its own, so
   * repeating a message repeats the reply (and hits the audio cache), as the offline LLM does.
   */
  replies: Map<string, string>;
  /** The API's environment for these peers (without the database settings). */
  apiEnv: Record<string, string>;
  close(): Promise<void>;
}

export const VOICE = 'Joanna';
export const POLLY_ENGINE = 'neural';

export async function startPeers(latency: PollyLatency): Promise<Peers> {
  const s3 = await startS3Server({ bucket: 'bench-audio' });
  const polly = await startPollyServer({ latencyMs: (text) => pollyLatencyMs(latency, [...text].length) });
  const replies = new Map<string, string>();
  const gemini = await startGeminiServer({
    reply: (body) => {
      const message = lastUserText(body);
      return replies.get(message) ?? `Here is a short answer to "${message.slice(0, 60)}". It is always the same for the same question.`;
    },
  });
  const s3Client = createS3Client({
    region: S3_SERVER_REGION,
    endpoint: s3.endpoint,
    forcePathStyle: true,
    credentials: S3_SERVER_CREDENTIALS,
  });

  return {
    s3,
    s3Client,
    polly,
    gemini,
    replies,
    apiEnv: {
      LOG_LEVEL: 'warn',
      LLM_PROVIDER: 'gemini',
      GEMINI_API_KEY: 'bench',
      GEMINI_BASE_URL: gemini.url,
      S3_BUCKET_NAME: s3.bucket,
      S3_ENDPOINT: s3.endpoint,
      S3_FORCE_PATH_STYLE: 'true',
      AWS_REGION: S3_SERVER_REGION,
      AWS_ACCESS_KEY_ID: S3_SERVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3_SERVER_CREDENTIALS.secretAccessKey,
      POLLY_ENDPOINT: polly.endpoint,
      POLLY_ENGINE,
      DEFAULT_POLLY_VOICE_ID: VOICE,
      AUDIO_URL_MODE: 'public',
      // The default, stated: the LLM request stays the same size whatever the history's length.
      LLM_HISTORY_LIMIT: '40',
    },
    async close() {
      s3Client.destroy();
      await Promise.all([s3.close(), polly.close(), gemini.close()]);
    },
  };
}
