// SigV4 query signing (a presigned URL) for an S3 GetObject, computed locally with no network call.
//
// Written by hand for speed: the read path builds one URL per model message (up to 10,000 per
// history), and the SDK's presigner (`getSignedUrl`) clones the command, runs the middleware stack
// and derives the signing key with four HMACs on every call. Here a URL costs one SHA-256 and one
// HMAC, because the derived signing key is cached per (date, region, secret). The unit test next to
// this file proves the output identical, byte for byte, to `getSignedUrl` from
// @aws-sdk/s3-request-presigner.
import { createHash, createHmac } from 'node:crypto';

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string | undefined;
}

export interface PresignGetInput {
  /** 'https:' or 'http:'. */
  protocol: string;
  /** The Host header value: hostname, plus ':port' when the port is not the scheme's default. */
  host: string;
  /** The object's path, unencoded, starting with '/': '/{key}' (virtual host) or '/{bucket}/{key}'. */
  path: string;
  region: string;
  credentials: SigningCredentials;
  /** The signing time (X-Amz-Date), in milliseconds since the epoch; sub-second parts are dropped. */
  signingTimeMs: number;
  /** X-Amz-Expires: S3 accepts 1 to 604800 (7 days). */
  expiresInSeconds: number;
}

/** SigV4 never accepts a presigned URL that lives longer than 7 days. */
export const MAX_PRESIGN_EXPIRY_SECONDS = 604_800;

const ALGORITHM = 'AWS4-HMAC-SHA256';
const UNSIGNED_PAYLOAD = 'UNSIGNED-PAYLOAD';
const SERVICE = 's3';

/** Builds a presigned GET URL, identical to the SDK's `getSignedUrl(client, new GetObjectCommand(...))`. */
export function presignS3GetUrl(input: PresignGetInput): string {
  const { expiresInSeconds: expires } = input;
  if (!Number.isInteger(expires) || expires < 1 || expires > MAX_PRESIGN_EXPIRY_SECONDS) {
    throw new RangeError(`presigned URL expiry must be an integer from 1 to ${MAX_PRESIGN_EXPIRY_SECONDS} seconds`);
  }
  const amzDate = toAmzDate(input.signingTimeMs);
  const date = amzDate.slice(0, 8);
  const scope = `${date}/${input.region}/${SERVICE}/aws4_request`;
  const { accessKeyId, secretAccessKey, sessionToken } = input.credentials;

  // Already in canonical (code point) order. `x-id=GetObject` is what the SDK adds to every
  // GetObject request; S3 ignores it, and keeping it makes our URLs match the SDK's exactly.
  const query =
    `X-Amz-Algorithm=${ALGORITHM}` +
    `&X-Amz-Content-Sha256=${UNSIGNED_PAYLOAD}` +
    `&X-Amz-Credential=${encodeRfc3986(`${accessKeyId}/${scope}`)}` +
    `&X-Amz-Date=${amzDate}` +
    `&X-Amz-Expires=${expires}` +
    (sessionToken ? `&X-Amz-Security-Token=${encodeRfc3986(sessionToken)}` : '');
  const tail = '&X-Amz-SignedHeaders=host&x-id=GetObject';

  // S3 signs the path as sent, encoded once (other services encode it twice).
  const path = input.path.split('/').map(encodeRfc3986).join('/');
  const canonicalRequest = `GET\n${path}\n${query}${tail}\nhost:${input.host}\n\nhost\n${UNSIGNED_PAYLOAD}`;
  const stringToSign = `${ALGORITHM}\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
  const signature = createHmac('sha256', signingKey(secretAccessKey, date, input.region))
    .update(stringToSign, 'utf8')
    .digest('hex');

  // The SDK lists the parameters sorted, so the signature sits between the token and SignedHeaders.
  return `${input.protocol}//${input.host}${path}?${query}&X-Amz-Signature=${signature}${tail}`;
}

// kDate → kRegion → kService → kSigning costs four HMACs; it only changes daily or when the
// credentials rotate, so keep a few. The cache is small and cleared wholesale, which is enough for
// one region and a daily date change.
const signingKeys = new Map<string, Buffer>();
const MAX_CACHED_KEYS = 16;

function signingKey(secret: string, date: string, region: string): Buffer {
  const id = `${date}\n${region}\n${secret}`;
  let key = signingKeys.get(id);
  if (!key) {
    const kDate = hmac(`AWS4${secret}`, date);
    key = hmac(hmac(hmac(kDate, region), SERVICE), 'aws4_request');
    if (signingKeys.size >= MAX_CACHED_KEYS) signingKeys.clear();
    signingKeys.set(id, key);
  }
  return key;
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data, 'utf8').digest();
}

function sha256Hex(data: string): string {
  return createHash('sha256').update(data, 'utf8').digest('hex');
}

/** YYYYMMDDTHHMMSSZ */
function toAmzDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(/[-:]|\.\d{3}/g, '');
}

/** SigV4's URI encoding: encodeURIComponent plus the reserved characters it leaves alone. */
function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}
