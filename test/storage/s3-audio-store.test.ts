// The S3 store against a real S3-compatible server on loopback, through the real SDK client.
import { GetObjectCommand, HeadObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AUDIO_CACHE_CONTROL, AUDIO_CONTENT_TYPE } from '../../src/storage/audio-store.ts';
import { createS3AudioStore, createS3Client } from '../../src/storage/s3-audio-store.ts';
import { S3_SERVER_CREDENTIALS, S3_SERVER_REGION, startS3Server, type S3TestServer } from '../support/s3-server.ts';
import { audioStoreContract, fakeMp3, randomAudioKey } from './audio-store-contract.ts';

let server: S3TestServer;
let client: S3Client;

beforeAll(async () => {
  server = await startS3Server();
  client = createS3Client({
    region: S3_SERVER_REGION,
    endpoint: server.endpoint,
    forcePathStyle: true,
    credentials: S3_SERVER_CREDENTIALS,
  });
});

afterAll(async () => {
  client?.destroy();
  await server?.close();
});

function makeStore(urlMode: 'public' | 'presigned') {
  return createS3AudioStore({
    client,
    bucket: server.bucket,
    region: S3_SERVER_REGION,
    endpoint: server.endpoint,
    forcePathStyle: true,
    urlMode,
    urlTtlSeconds: 3600,
  });
}

async function fetchUrl(url: string) {
  const res = await fetch(url);
  return { status: res.status, body: new Uint8Array(await res.arrayBuffer()) };
}

audioStoreContract('S3 (s3rver), public path-style URLs', () => ({ store: makeStore('public'), fetchUrl }));
// s3rver accepts any SigV4 query signature, so this proves the URL's shape and routing, not the
// signature; sigv4-presign.test.ts proves the signature against the SDK's own presigner.
audioStoreContract('S3 (s3rver), presigned URLs', () => ({ store: makeStore('presigned'), fetchUrl }));

describe('S3 audio store', () => {
  it('stores the object as audio/mpeg with the immutable cache policy', async () => {
    const store = makeStore('public');
    const key = randomAudioKey('audio/polly-neural-mp3/');
    const mp3 = fakeMp3(3000);
    await store.put(key, mp3);

    const head = await client.send(new HeadObjectCommand({ Bucket: server.bucket, Key: key }));
    expect(head.ContentType).toBe(AUDIO_CONTENT_TYPE);
    expect(head.CacheControl).toBe(AUDIO_CACHE_CONTROL);
    expect(head.ContentLength).toBe(mp3.length);

    // Stored as plain bytes, not aws-chunked framing.
    const got = await client.send(new GetObjectCommand({ Bucket: server.bucket, Key: key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.from(mp3))).toBe(true);

    const res = await fetch(await store.url(key));
    expect(res.headers.get('content-type')).toBe(AUDIO_CONTENT_TYPE);
    expect(res.headers.get('cache-control')).toBe(AUDIO_CACHE_CONTROL);
  });

  it('has() makes one request, put() one request, and url() none at all', async () => {
    const store = makeStore('public');
    const key = randomAudioKey();
    server.resetRequests();
    await store.has(key);
    expect(server.requestLog()).toEqual([{ method: 'HEAD', url: `/${server.bucket}/${key}` }]);
    server.resetRequests();
    await store.put(key, fakeMp3(10));
    expect(server.requestLog()).toMatchObject([{ method: 'PUT' }]);

    const presigned = makeStore('presigned');
    server.resetRequests();
    for (let i = 0; i < 500; i++) {
      await store.url(randomAudioKey());
      await presigned.url(randomAudioKey());
    }
    expect(server.requests()).toBe(0);
  });

  it('throws storage errors other than a missing object', async () => {
    const store = createS3AudioStore({
      client,
      bucket: 'no-such-bucket',
      region: S3_SERVER_REGION,
      endpoint: server.endpoint,
      forcePathStyle: true,
      urlMode: 'public',
      urlTtlSeconds: 3600,
    });
    // s3rver answers HEAD on a missing bucket with 404 too, so use put(), which names the error.
    await expect(store.put(randomAudioKey(), fakeMp3(10))).rejects.toMatchObject({ name: 'NoSuchBucket' });

    const unreachable = createS3Client({
      region: S3_SERVER_REGION,
      endpoint: 'http://127.0.0.1:1',
      forcePathStyle: true,
      credentials: S3_SERVER_CREDENTIALS,
    });
    try {
      const broken = createS3AudioStore({
        client: unreachable,
        bucket: server.bucket,
        region: S3_SERVER_REGION,
        endpoint: 'http://127.0.0.1:1',
        forcePathStyle: true,
        urlMode: 'public',
        urlTtlSeconds: 3600,
      });
      await expect(broken.has(randomAudioKey())).rejects.toThrow();
    } finally {
      unreachable.destroy();
    }
  });
});

describe('startS3Server', () => {
  it('counts every request it receives, and can be reset', async () => {
    server.resetRequests();
    expect(server.requests()).toBe(0);
    await fetch(`${server.endpoint}/${server.bucket}/nothing-here`);
    await fetch(`${server.endpoint}/`);
    expect(server.requests()).toBe(2);
    expect(server.requestLog().map((r) => r.method)).toEqual(['GET', 'GET']);
    server.resetRequests();
    expect(server.requests()).toBe(0);
  });
});
