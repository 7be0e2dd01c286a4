import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { describe, expect, it } from 'vitest';
import { s3BucketOrigin } from './s3-audio-store.ts';
import { presignS3GetUrl, type SigningCredentials } from './sigv4-presign.ts';

const KEY = `audio/polly-neural-mp3/${'0123456789abcdef'.repeat(4)}.mp3`;
const STATIC: SigningCredentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY' };
const TEMPORARY: SigningCredentials = {
  accessKeyId: 'ASIAEXAMPLE',
  secretAccessKey: 'c2VjcmV0/+=',
  // Real session tokens are long base64, with '/', '+' and '=' that must be encoded.
  sessionToken: 'IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJH+MEUCIQD/abc=',
};

interface Case {
  name: string;
  region: string;
  bucket: string;
  endpoint?: string;
  forcePathStyle: boolean;
  credentials: SigningCredentials;
  key?: string;
  at: string;
  expiresIn: number;
}

const cases: Case[] = [
  { name: 'AWS virtual host', region: 'eu-west-1', bucket: 'my-audio', forcePathStyle: false, credentials: STATIC, at: '2024-05-01T12:34:56Z', expiresIn: 3600 },
  { name: 'AWS path style', region: 'us-east-1', bucket: 'my-audio', forcePathStyle: true, credentials: STATIC, at: '2024-12-31T23:59:59Z', expiresIn: 604_800 },
  { name: 'AWS with a session token', region: 'ap-southeast-2', bucket: 'my-audio', forcePathStyle: false, credentials: TEMPORARY, at: '2025-02-28T00:00:00Z', expiresIn: 86_400 },
  { name: 'AWS path style with a session token', region: 'eu-central-1', bucket: 'my-audio', forcePathStyle: true, credentials: TEMPORARY, at: '2025-06-15T06:00:00Z', expiresIn: 60 },
  { name: 'AWS bucket with dots', region: 'eu-west-1', bucket: 'audio.example.com', forcePathStyle: false, credentials: STATIC, at: '2024-05-01T12:00:00Z', expiresIn: 3600 },
  { name: 'custom endpoint with a port, path style', region: 'us-east-1', bucket: 'audio', endpoint: 'http://127.0.0.1:9000', forcePathStyle: true, credentials: TEMPORARY, at: '2024-05-01T12:00:00Z', expiresIn: 900 },
  { name: 'custom endpoint, virtual host', region: 'auto', bucket: 'audio', endpoint: 'https://acc.r2.cloudflarestorage.com', forcePathStyle: false, credentials: STATIC, at: '2024-05-01T12:00:00Z', expiresIn: 900 },
  { name: 'custom endpoint with a path and default port', region: 'us-east-1', bucket: 'audio', endpoint: 'https://s3.example.com:443/base/', forcePathStyle: true, credentials: STATIC, at: '2024-05-01T12:00:00Z', expiresIn: 900 },
  { name: 'a key without prefix', region: 'eu-west-1', bucket: 'my-audio', forcePathStyle: false, credentials: TEMPORARY, key: `${'f'.repeat(64)}.mp3`, at: '2024-05-01T12:00:00Z', expiresIn: 7200 },
];

describe('presignS3GetUrl', () => {
  it.each(cases)('is byte-for-byte the SDK presigner output: $name', async (c) => {
    const key = c.key ?? KEY;
    const client = new S3Client({
      region: c.region,
      ...(c.endpoint ? { endpoint: c.endpoint } : {}),
      forcePathStyle: c.forcePathStyle,
      credentials: c.credentials,
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
    });
    const expected = await getSignedUrl(client, new GetObjectCommand({ Bucket: c.bucket, Key: key }), {
      expiresIn: c.expiresIn,
      signingDate: new Date(c.at),
    });
    client.destroy();

    const origin = s3BucketOrigin(c);
    const actual = presignS3GetUrl({
      protocol: origin.protocol,
      host: origin.host,
      path: `${origin.pathPrefix}/${key}`,
      region: c.region,
      credentials: c.credentials,
      signingTimeMs: Date.parse(c.at),
      expiresInSeconds: c.expiresIn,
    });
    expect(actual).toBe(expected);
  });

  it('changes the signature with the secret, the time, the key and the expiry', () => {
    const base = {
      protocol: 'https:',
      host: 'b.s3.eu-west-1.amazonaws.com',
      path: `/${KEY}`,
      region: 'eu-west-1',
      credentials: STATIC,
      signingTimeMs: Date.parse('2024-05-01T00:00:00Z'),
      expiresInSeconds: 3600,
    };
    const sig = (u: string) => new URL(u).searchParams.get('X-Amz-Signature');
    const reference = sig(presignS3GetUrl(base));
    expect(reference).toMatch(/^[0-9a-f]{64}$/);
    const variants = [
      { ...base, credentials: { ...STATIC, secretAccessKey: 'other' } },
      { ...base, signingTimeMs: base.signingTimeMs + 1000 },
      { ...base, path: `/${KEY.replace('0123', '3210')}` },
      { ...base, expiresInSeconds: 3601 },
      { ...base, region: 'eu-west-2' },
    ];
    for (const v of variants) expect(sig(presignS3GetUrl(v))).not.toBe(reference);
    // The same input always gives the same URL (the signing-key cache changes nothing).
    expect(presignS3GetUrl(base)).toBe(presignS3GetUrl(base));
  });

  it('refuses an expiry beyond 7 days or below 1 second', () => {
    const input = {
      protocol: 'https:',
      host: 'h',
      path: '/k',
      region: 'us-east-1',
      credentials: STATIC,
      signingTimeMs: 0,
    };
    expect(() => presignS3GetUrl({ ...input, expiresInSeconds: 604_801 })).toThrow(RangeError);
    expect(() => presignS3GetUrl({ ...input, expiresInSeconds: 0 })).toThrow(RangeError);
    expect(() => presignS3GetUrl({ ...input, expiresInSeconds: 1.5 })).toThrow(RangeError);
    expect(presignS3GetUrl({ ...input, expiresInSeconds: 604_800 })).toContain('X-Amz-Expires=604800');
  });
});
