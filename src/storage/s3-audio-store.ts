// The S3 audio store (AWS S3 or an S3-compatible server: MinIO, R2, B2, s3rver in the tests).
import { HeadObjectCommand, PutObjectCommand, S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { isIP } from 'node:net';
import { isAudioKey } from './audio-key.ts';
import { AUDIO_CACHE_CONTROL, AUDIO_CONTENT_TYPE, type AudioStore } from './audio-store.ts';
import { MAX_PRESIGN_EXPIRY_SECONDS, presignS3GetUrl } from './sigv4-presign.ts';

export interface S3ClientOptions {
  region: string;
  endpoint?: string | undefined;
  forcePathStyle: boolean;
  /** Unset: the SDK's default chain (environment, profile, SSO, container or instance role). */
  credentials?: S3ClientConfig['credentials'];
}

export function createS3Client(opts: S3ClientOptions): S3Client {
  return new S3Client({
    region: opts.region,
    ...(opts.endpoint ? { endpoint: opts.endpoint } : {}),
    forcePathStyle: opts.forcePathStyle,
    ...(opts.credentials ? { credentials: opts.credentials } : {}),
    // Otherwise the SDK sends bodies aws-chunked with a trailing CRC, which S3-compatible stores
    // (s3rver, R2, B2) store verbatim or reject.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export interface S3AudioStoreOptions {
  client: S3Client;
  bucket: string;
  region: string;
  endpoint?: string | undefined;
  forcePathStyle: boolean;
  /** Public mode only: CloudFront or a custom domain in front of the bucket. */
  publicBaseUrl?: string | undefined;
  urlMode: 'public' | 'presigned';
  /** Presigned mode: how long a URL stays valid, at most 7 days. */
  urlTtlSeconds: number;
}

export function createS3AudioStore(opts: S3AudioStoreOptions): AudioStore {
  const { client, bucket } = opts;
  const origin = s3BucketOrigin(opts);

  return {
    async has(key) {
      checkKey(key);
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
        return true;
      } catch (err) {
        // Without s3:ListBucket, S3 answers 403 rather than 404 for a missing key: that is thrown,
        // because treating it as a miss would synthesize on every request and then fail the put.
        if (isNotFound(err)) return false;
        throw err;
      }
    },

    async put(key, mp3) {
      checkKey(key);
      // A single PutObject is atomic in S3: readers see the old object, or none, or all the bytes.
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: key,
          Body: mp3,
          ContentType: AUDIO_CONTENT_TYPE,
          CacheControl: AUDIO_CACHE_CONTROL,
        }),
      );
    },

    url:
      opts.urlMode === 'public'
        ? publicUrl(opts.publicBaseUrl ?? origin.baseUrl)
        : presignedUrl(opts, origin),
  };
}

function publicUrl(base: string): AudioStore['url'] {
  const prefix = base.replace(/\/+$/, '') + '/';
  return async (key) => prefix + key;
}

/**
 * A presigned URL always points at the S3 endpoint itself: a CDN base URL cannot carry an S3
 * signature. The signing time is rounded down to a window, so that the URL for one message stays the
 * same for a while and a browser can cache the audio behind it; it still has at least TTL minus one
 * window (at least half the TTL) to live when handed out.
 */
function presignedUrl(opts: S3AudioStoreOptions, origin: S3BucketOrigin): AudioStore['url'] {
  const ttl = opts.urlTtlSeconds;
  if (!Number.isInteger(ttl) || ttl < 2 || ttl > MAX_PRESIGN_EXPIRY_SECONDS) {
    throw new RangeError(`urlTtlSeconds must be an integer from 2 to ${MAX_PRESIGN_EXPIRY_SECONDS} (7 days)`);
  }
  const windowMs = signingWindowSeconds(ttl) * 1000;
  const credentials = opts.client.config.credentials;
  return async (key) => {
    // Memoized by the SDK: no network call unless expiring role credentials need a refresh. A URL
    // signed with temporary credentials stops working when their session ends, whatever its TTL.
    const creds = await credentials();
    return presignS3GetUrl({
      protocol: origin.protocol,
      host: origin.host,
      path: `${origin.pathPrefix}/${key}`,
      region: opts.region,
      credentials: creds,
      signingTimeMs: Math.floor(Date.now() / windowMs) * windowMs,
      expiresInSeconds: ttl,
    });
  };
}

/** Half the TTL, capped at 6 hours: long enough for browser caching, short enough to keep most of the TTL. */
export function signingWindowSeconds(ttlSeconds: number): number {
  return Math.max(1, Math.min(Math.floor(ttlSeconds / 2), 6 * 3600));
}

export interface S3BucketOrigin {
  protocol: string;
  /** Host header value, with a port only when it is not the scheme's default. */
  host: string;
  /** '' for a virtual-hosted bucket, '/{bucket}' (after any endpoint path) for path style. */
  pathPrefix: string;
  /** `${protocol}//${host}${pathPrefix}`: the public base URL of the bucket. */
  baseUrl: string;
}

/**
 * Where the bucket's objects live, by the rules the SDK applies: AWS virtual-hosted
 * `https://{bucket}.s3.{region}.amazonaws.com`, or path style `https://s3.{region}.amazonaws.com/{bucket}`
 * when forced or when the bucket name has dots (TLS wildcard certificates do not cover them); with a
 * custom endpoint, `{endpoint}/{bucket}` or the bucket as a subdomain of the endpoint's host (never
 * for an IP address). Not covered: FIPS, dual-stack, Transfer Acceleration and the isolated partitions.
 */
export function s3BucketOrigin(opts: {
  bucket: string;
  region: string;
  endpoint?: string | undefined;
  forcePathStyle: boolean;
}): S3BucketOrigin {
  const { bucket, region } = opts;
  const dnsSuffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  const endpoint = new URL(opts.endpoint ?? `https://s3.${region}.${dnsSuffix}`);
  const endpointPath = endpoint.pathname.replace(/\/+$/, '');
  const virtualHost =
    !opts.forcePathStyle &&
    /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket) &&
    isIP(endpoint.hostname.replace(/^\[|\]$/g, '')) === 0;
  const host = opts.endpoint
    ? virtualHost
      ? `${bucket}.${endpoint.host}`
      : endpoint.host
    : virtualHost
      ? `${bucket}.s3.${region}.${dnsSuffix}`
      : endpoint.host;
  const pathPrefix = virtualHost ? endpointPath : `${endpointPath}/${bucket}`;
  return { protocol: endpoint.protocol, host, pathPrefix, baseUrl: `${endpoint.protocol}//${host}${pathPrefix}` };
}

function checkKey(key: string): void {
  if (!isAudioKey(key)) throw new TypeError(`not an audio key: ${JSON.stringify(key)}`);
}

function isNotFound(err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false;
  const e = err as { name?: unknown; $metadata?: { httpStatusCode?: number } };
  return e.name === 'NotFound' || e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404;
}
