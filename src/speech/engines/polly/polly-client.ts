// The one Amazon Polly client of the process, shared by the synthesizer and the voice catalogue.
import { Agent as HttpAgent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { PollyClient } from '@aws-sdk/client-polly';
import { NodeHttpHandler } from '@smithy/node-http-handler';

export interface PollyClientOptions {
  region: string;
  /** POLLY_ENDPOINT: a proxy or a test server. Unset: the AWS endpoint of the region. */
  endpoint?: string | undefined;
  /**
   * AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) when the config has them.
   * Unset, the SDK's default chain finds them (shared files, SSO, container or instance role).
   */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
}

export function createPollyClient(opts: PollyClientOptions): PollyClient {
  // The default handler of client-polly speaks HTTP/2 (for the bidirectional stream operation) and
  // fails with ERR_HTTP2_ERROR against HTTP/1.1 endpoints such as proxies and test servers.
  // SynthesizeSpeech and DescribeVoices are plain request/response calls, and Polly serves them over
  // HTTP/1.1 as well; keep-alive agents spare a TLS handshake per synthesized chunk.
  const agentOptions = { keepAlive: true, maxSockets: 50 };
  const requestHandler = new NodeHttpHandler({
    httpAgent: new HttpAgent(agentOptions),
    httpsAgent: new HttpsAgent(agentOptions),
    connectionTimeout: 5_000,
    // 3000 characters of speech take Polly a few seconds; a minute without an answer is an outage.
    requestTimeout: 60_000,
    throwOnRequestTimeout: true,
    socketTimeout: 30_000,
  });
  return new PollyClient({
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    requestHandler,
    // Standard mode retries throttling (ThrottlingException), 5xx and network errors with jittered
    // exponential backoff and a retry quota, so a burst of chunks does not hammer a throttled account.
    retryMode: 'standard',
    maxAttempts: 4,
  });
}
