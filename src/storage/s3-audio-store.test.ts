// The URL rules of the S3 store (pure: no request is made, so no server is needed).
import { S3Client } from '@aws-sdk/client-s3';
import { afterAll, afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createS3AudioStore, s3BucketOrigin, signingWindowSeconds, type S3AudioStoreOptions } from './s3-audio-store.ts';

const KEY = `audio/polly-neural-mp3/${'ab'.repeat(32)}.mp3`;
const clients: S3Client[] = [];
afterAll(() => clients.forEach((c) => c.destroy()));

function store(opts: Partial<S3AudioStoreOptions> & { region?: string }) {
  const region = opts.region ?? 'eu-west-1';
  const client =
    opts.client ??
    new S3Client({ region, credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret', sessionToken: 'tok' } });
  clients.push(client);
  return createS3AudioStore({
    bucket: 'my-audio',
    forcePathStyle: false,
    urlMode: 'public',
    urlTtlSeconds: 86_400,
    ...opts,
    client,
    region,
  });
}

describe('S3 public URLs', () => {
  it('default to the AWS virtual-hosted bucket URL', async () => {
    expect(await store({}).url(KEY)).toBe(`https://my-audio.s3.eu-west-1.amazonaws.com/${KEY}`);
    expect(await store({ region: 'us-east-1' }).url(KEY)).toBe(`https://my-audio.s3.us-east-1.amazonaws.com/${KEY}`);
    expect(await store({ region: 'cn-north-1' }).url(KEY)).toBe(`https://my-audio.s3.cn-north-1.amazonaws.com.cn/${KEY}`);
  });

  it('use AWS path style when forced, or when the bucket name has dots', async () => {
    expect(await store({ forcePathStyle: true }).url(KEY)).toBe(`https://s3.eu-west-1.amazonaws.com/my-audio/${KEY}`);
    expect(await store({ bucket: 'audio.example.com' }).url(KEY)).toBe(
      `https://s3.eu-west-1.amazonaws.com/audio.example.com/${KEY}`,
    );
  });

  it('use AUDIO_PUBLIC_BASE_URL when given, with exactly one slash before the key', async () => {
    expect(await store({ publicBaseUrl: 'https://cdn.example.com' }).url(KEY)).toBe(`https://cdn.example.com/${KEY}`);
    expect(await store({ publicBaseUrl: 'https://cdn.example.com/v/' }).url(KEY)).toBe(`https://cdn.example.com/v/${KEY}`);
  });

  it('with a custom endpoint: {endpoint}/{bucket} in path style, else the bucket as a subdomain', async () => {
    expect(await store({ endpoint: 'http://minio.local:9000', forcePathStyle: true }).url(KEY)).toBe(
      `http://minio.local:9000/my-audio/${KEY}`,
    );
    expect(await store({ endpoint: 'https://acc.r2.cloudflarestorage.com', forcePathStyle: false }).url(KEY)).toBe(
      `https://my-audio.acc.r2.cloudflarestorage.com/${KEY}`,
    );
    expect(await store({ endpoint: 'https://s3.example.com:443/base/', forcePathStyle: true }).url(KEY)).toBe(
      `https://s3.example.com/base/my-audio/${KEY}`,
    );
    // An IP address has no subdomains: path style whatever the setting, as the SDK does.
    expect(await store({ endpoint: 'http://127.0.0.1:4568', forcePathStyle: false }).url(KEY)).toBe(
      `http://127.0.0.1:4568/my-audio/${KEY}`,
    );
  });

});

describe('s3BucketOrigin', () => {
  it('splits the base URL into what SigV4 signs', () => {
    expect(s3BucketOrigin({ bucket: 'b-1', region: 'eu-west-1', forcePathStyle: false })).toEqual({
      protocol: 'https:',
      host: 'b-1.s3.eu-west-1.amazonaws.com',
      pathPrefix: '',
      baseUrl: 'https://b-1.s3.eu-west-1.amazonaws.com',
    });
    expect(s3BucketOrigin({ bucket: 'b-1', region: 'x', endpoint: 'http://localhost:4568', forcePathStyle: true })).toEqual({
      protocol: 'http:',
      host: 'localhost:4568',
      pathPrefix: '/b-1',
      baseUrl: 'http://localhost:4568/b-1',
    });
  });
});

describe('S3 presigned URLs', () => {
  const HOUR = 3_600_000;
  const t0 = Date.parse('2025-03-10T12:00:00Z'); // a multiple of every window below

  // The signing time is read from the clock, so the tests set the clock (Date only; timers stay real).
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(t0);
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  function presigned(ttl: number) {
    return store({ urlMode: 'presigned', urlTtlSeconds: ttl });
  }

  it('sign at the start of the window: one URL per message within a window, a new one after it', async () => {
    const s = presigned(86_400); // window = min(12 h, 6 h) = 6 h
    const first = await s.url(KEY);
    vi.setSystemTime(t0 + 6 * HOUR - 1);
    expect(await s.url(KEY)).toBe(first);
    vi.setSystemTime(t0 + 6 * HOUR);
    const next = await s.url(KEY);
    expect(next).not.toBe(first);
    const q = new URL(next).searchParams;
    expect(q.get('X-Amz-Date')).toBe('20250310T180000Z');
    expect(new URL(first).searchParams.get('X-Amz-Date')).toBe('20250310T120000Z');
  });

  it('leave at least TTL minus the window to live, and never exceed 7 days', async () => {
    const at = { now: t0 + 6 * HOUR - 1 };
    vi.setSystemTime(at.now);
    const url = new URL(await presigned(86_400).url(KEY));
    const signedAt = Date.parse(
      url.searchParams.get('X-Amz-Date')!.replace(/^(\d{4})(\d\d)(\d\d)T(\d\d)(\d\d)(\d\d)Z$/, '$1-$2-$3T$4:$5:$6Z'),
    );
    const expiresAt = signedAt + Number(url.searchParams.get('X-Amz-Expires')) * 1000;
    expect(expiresAt - at.now).toBeGreaterThanOrEqual(86_400_000 - 6 * HOUR);

    vi.setSystemTime(t0);
    const week = new URL(await presigned(604_800).url(KEY));
    expect(week.searchParams.get('X-Amz-Expires')).toBe('604800');
    expect(() => presigned(604_801)).toThrow(/7 days/);
  });

  it('use a window of half the TTL, capped at 6 hours', () => {
    expect(signingWindowSeconds(60)).toBe(30);
    expect(signingWindowSeconds(3600)).toBe(1800);
    expect(signingWindowSeconds(86_400)).toBe(6 * 3600);
    expect(signingWindowSeconds(604_800)).toBe(6 * 3600);
  });

  it('carry the credentials and point at the bucket, whatever the public base URL', async () => {
    const s = store({ urlMode: 'presigned', publicBaseUrl: 'https://cdn.example.com' });
    const url = new URL(await s.url(KEY));
    expect(url.origin).toBe('https://my-audio.s3.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe(`/${KEY}`);
    expect(url.searchParams.get('X-Amz-Credential')).toBe('AKIDEXAMPLE/20250310/eu-west-1/s3/aws4_request');
    expect(url.searchParams.get('X-Amz-Security-Token')).toBe('tok');
    expect(url.searchParams.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
  });

  it('follow refreshed credentials from the client provider', async () => {
    let secret = 'one';
    const client = new S3Client({
      region: 'eu-west-1',
      // Expiring within the SDK's 5-minute refresh margin, so its memoized provider asks again.
      credentials: async () => ({
        accessKeyId: `AK-${secret}`,
        secretAccessKey: secret,
        expiration: new Date(Date.now() + 60_000),
      }),
    });
    const s = store({ client, urlMode: 'presigned' });
    const first = await s.url(KEY);
    secret = 'two';
    const second = await s.url(KEY);
    expect(new URL(second).searchParams.get('X-Amz-Credential')).toMatch(/^AK-two\//);
    expect(second).not.toBe(first);
  });

  it('are fast enough for a 10,000-message history', async () => {
    const s = presigned(86_400);
    const keys = Array.from({ length: 10_000 }, (_, i) => `audio/x/${i.toString(16).padStart(64, '0')}.mp3`);
    const started = performance.now();
    const urls = await Promise.all(keys.map((k) => s.url(k)));
    const elapsed = performance.now() - started;
    expect(new Set(urls).size).toBe(10_000);
    // About 0.1 s on the dev machine; getSignedUrl took about 0.7 ms per URL, so 7 s for the same work.
    expect(elapsed).toBeLessThan(2_000);
  });
});
