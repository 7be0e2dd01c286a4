// The environment that points the API at the loopback peers, through the documented variables only:
// S3 (s3rver), Polly (its protocol server) and Gemini (its protocol server).
import type { GeminiServer } from './gemini-server.ts';
import type { PollyServer } from './polly-server.ts';
import { S3_SERVER_CREDENTIALS, S3_SERVER_REGION, type S3TestServer } from './s3-server.ts';

/** S3 and Polly alone, for tests that keep another LLM (the offline one, say). */
export function speechTestEnv(peers: { s3: S3TestServer; polly: PollyServer }): Record<string, string> {
  return {
    S3_BUCKET_NAME: peers.s3.bucket,
    S3_ENDPOINT: peers.s3.endpoint,
    S3_FORCE_PATH_STYLE: 'true',
    AWS_REGION: S3_SERVER_REGION,
    AWS_ACCESS_KEY_ID: S3_SERVER_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: S3_SERVER_CREDENTIALS.secretAccessKey,
    POLLY_ENDPOINT: peers.polly.endpoint,
    POLLY_ENGINE: 'neural',
  };
}

export function awsTestEnv(peers: { s3: S3TestServer; polly: PollyServer; gemini: GeminiServer }): Record<string, string> {
  return {
    LLM_PROVIDER: 'gemini',
    GEMINI_API_KEY: 'gemini-test-key',
    GEMINI_BASE_URL: peers.gemini.url,
    ...speechTestEnv(peers),
  };
}
