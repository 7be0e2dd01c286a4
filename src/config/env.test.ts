import { describe, expect, it } from 'vitest';
import { ConfigError, parseConfig } from './env.ts';

function problems(env: Record<string, string>): string[] {
  try {
    parseConfig(env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('parseConfig', () => {
  it('runs on embedded defaults with an empty environment', () => {
    const c = parseConfig({});
    expect(c).toMatchObject({
      port: 8000,
      host: '127.0.0.1',
      dataDir: './data',
      databaseUrl: undefined,
      llm: { provider: 'offline', maxOutputTokens: 2048 },
      llmTimeoutMs: 60_000,
      llmHistoryLimit: 40,
      maxMessageChars: 10_000,
      defaultVoiceId: 'Joanna',
      speech: { engine: 'espeak' },
      storage: { kind: 'file' },
      audioKeyPrefix: undefined,
      aws: { region: 'us-east-1', credentials: undefined },
    });
  });

  it('chooses Gemini when its key is set, and the AWS pair when a bucket is', () => {
    const c = parseConfig({ GEMINI_API_KEY: 'k', S3_BUCKET_NAME: 'my-audio', POLLY_ENGINE: 'generative', AWS_REGION: 'eu-west-1' });
    expect(c.llm).toEqual({
      provider: 'gemini',
      apiKey: 'k',
      model: 'gemini-2.5-flash',
      baseUrl: undefined,
      maxOutputTokens: 2048,
    });
    expect(c.speech).toEqual({ engine: 'polly', pollyEngine: 'generative', endpoint: undefined });
    expect(c.storage).toMatchObject({ kind: 's3', bucket: 'my-audio', urlMode: 'public', urlTtlSeconds: 86_400 });
  });

  it('reads CORS_ORIGINS as a list, or "*"', () => {
    expect(parseConfig({}).corsOrigins).toBeUndefined();
    expect(parseConfig({ CORS_ORIGINS: 'http://localhost:5173, https://app.example.com' }).corsOrigins).toEqual([
      'http://localhost:5173',
      'https://app.example.com',
    ]);
    expect(parseConfig({ CORS_ORIGINS: '*' }).corsOrigins).toEqual(['*']);
  });

  it('gives every LLM provider LLM_MAX_OUTPUT_TOKENS, 2048 by default, and refuses 0, -1 or abc naming it', () => {
    const openai = { LLM_PROVIDER: 'openai', OPENAI_MODEL: 'llama3.2' };
    expect(parseConfig({ ...openai }).llm.maxOutputTokens).toBe(2048);
    expect(parseConfig({ LLM_MAX_OUTPUT_TOKENS: '' }).llm.maxOutputTokens).toBe(2048);
    for (const env of [{}, { GEMINI_API_KEY: 'k' }, openai]) {
      expect(parseConfig({ ...env, LLM_MAX_OUTPUT_TOKENS: '512' }).llm.maxOutputTokens).toBe(512);
    }
    expect(parseConfig({ LLM_MAX_OUTPUT_TOKENS: '1' }).llm.maxOutputTokens).toBe(1);
    expect(parseConfig({ LLM_MAX_OUTPUT_TOKENS: '1000000' }).llm.maxOutputTokens).toBe(1_000_000);
    for (const bad of ['0', '-1', 'abc', '1.5', '1000001']) {
      expect(problems({ LLM_MAX_OUTPUT_TOKENS: bad }).join('\n'), bad).toMatch(/^LLM_MAX_OUTPUT_TOKENS: /m);
    }
  });

  it('lets LLM_PROVIDER=offline win over a Gemini key', () => {
    expect(parseConfig({ GEMINI_API_KEY: 'k', LLM_PROVIDER: 'offline' }).llm.provider).toBe('offline');
  });

  it('treats empty values as unset and keeps an explicit empty prefix', () => {
    expect(parseConfig({ PORT: '', DATABASE_URL: '' })).toMatchObject({ port: 8000, databaseUrl: undefined });
    expect(parseConfig({ AUDIO_KEY_PREFIX: '' }).audioKeyPrefix).toBe('');
  });

  it.each([
    [{ PORT: 'eighty' }, 'PORT'],
    [{ PORT: '70000' }, 'PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ LLM_PROVIDER: 'claude' }, 'LLM_PROVIDER'],
    [{ LLM_PROVIDER: 'gemini' }, 'GEMINI_API_KEY'],
    [{ LLM_PROVIDER: 'openai' }, 'OPENAI_MODEL'],
    [{ POLLY_ENGINE: 'turbo' }, 'POLLY_ENGINE'],
    [{ AUDIO_URL_TTL: '604801', S3_BUCKET_NAME: 'b-1' }, 'AUDIO_URL_TTL'],
    [{ AUDIO_URL_MODE: 'presigned' }, 'AUDIO_URL_MODE'],
    [{ AUDIO_KEY_PREFIX: '../up/' }, 'AUDIO_KEY_PREFIX'],
    [{ AUDIO_KEY_PREFIX: 'no-slash' }, 'AUDIO_KEY_PREFIX'],
    [{ S3_BUCKET_NAME: 'Bad_Bucket' }, 'S3_BUCKET_NAME'],
    [{ AWS_ACCESS_KEY_ID: 'AKIA' }, 'AWS_SECRET_ACCESS_KEY'],
    [{ S3_FORCE_PATH_STYLE: 'maybe' }, 'S3_FORCE_PATH_STYLE'],
    [{ GEMINI_BASE_URL: 'ftp://x' }, 'GEMINI_BASE_URL'],
    [{ MAX_MESSAGE_CHARS: '0' }, 'MAX_MESSAGE_CHARS'],
    [{ GEMINI_BASE_URL: 'http://user:pw@proxy.local' }, 'GEMINI_BASE_URL'],
    [{ OPENAI_BASE_URL: 'http://user:pw@proxy.local/v1' }, 'OPENAI_BASE_URL'],
    [{ CORS_ORIGINS: 'localhost:5173' }, 'CORS_ORIGINS'],
    [{ SPEECH_TIMEOUT_MS: '-5' }, 'SPEECH_TIMEOUT_MS'],
  ])('names the variable of a bad value: %j', (env, variable) => {
    expect(problems(env).join('\n')).toMatch(new RegExp(`^${variable}: `, 'm'));
  });

  it('never repeats a secret value in its message', () => {
    const message = problems({ GEMINI_API_KEY: 'super-secret', PORT: 'super-secret' }).join('\n');
    expect(message).not.toContain('super-secret');
  });

  describe('access', () => {
    const ADMIN = 'a'.repeat(32);

    it('needs no credentials on a loopback HOST, and no rate limits there unless they are set', () => {
      for (const HOST of ['127.0.0.1', 'localhost', '::1', '[::1]', '127.0.0.2']) {
        expect(parseConfig({ HOST }).auth, HOST).toEqual({ mode: 'none', exposed: false });
      }
      expect(parseConfig({}).rateLimits).toEqual({ perMinute: undefined, messagesPerMinute: undefined, redisUrl: undefined });
      expect(parseConfig({ MESSAGE_RATE_LIMIT_PER_MINUTE: '5' }).rateLimits.messagesPerMinute).toBe(5);
    });

    it('requires credentials on any other address, and then an admin key of 32 characters or more', () => {
      const message = problems({ HOST: '0.0.0.0' }).join('\n');
      expect(message).toMatch(/^ADMIN_API_KEY: is required when HOST \(0\.0\.0\.0\) is not a loopback address/m);
      expect(problems({ AUTH_MODE: 'required' }).join('\n')).toMatch(/^ADMIN_API_KEY: is required when AUTH_MODE=required/m);
      const short = problems({ AUTH_MODE: 'required', ADMIN_API_KEY: 'short-secret-value' }).join('\n');
      expect(short).toMatch(/^ADMIN_API_KEY: must be at least 32 characters/m);
      expect(short).not.toContain('short-secret-value');

      const c = parseConfig({ HOST: '0.0.0.0', ADMIN_API_KEY: ADMIN });
      expect(c.auth).toEqual({ mode: 'required', adminApiKey: ADMIN, jwt: undefined });
      expect(c.rateLimits).toEqual({ perMinute: 300, messagesPerMinute: 20, redisUrl: undefined });
    });

    it('starts without credentials on a public address only when told to, and says so', () => {
      expect(parseConfig({ HOST: '0.0.0.0', AUTH_MODE: 'none' }).auth).toEqual({ mode: 'none', exposed: true });
    });

    it('accepts JWTs only with an issuer to check', () => {
      const base = { AUTH_MODE: 'required', ADMIN_API_KEY: ADMIN };
      expect(problems({ ...base, AUTH_JWKS_URL: 'https://idp.example/jwks.json' }).join('\n')).toMatch(
        /^AUTH_JWT_ISSUER: is required when AUTH_JWKS_URL is set/m,
      );
      expect(problems({ ...base, AUTH_JWT_ISSUER: 'https://idp.example/' }).join('\n')).toMatch(/^AUTH_JWKS_URL: /m);
      const c = parseConfig({ ...base, AUTH_JWKS_URL: 'https://idp.example/jwks.json', AUTH_JWT_ISSUER: 'https://idp.example/' });
      expect(c.auth).toMatchObject({ jwt: { jwksUrl: 'https://idp.example/jwks.json', issuer: 'https://idp.example/', audience: undefined } });
    });

    it('takes REDIS_URL with its password, and refuses anything else', () => {
      expect(parseConfig({ REDIS_URL: 'redis://:pw@cache:6379/0' }).rateLimits.redisUrl).toBe('redis://:pw@cache:6379/0');
      expect(problems({ REDIS_URL: 'http://cache:6379' }).join('\n')).toMatch(/^REDIS_URL: must be a redis:\/\/ or rediss:\/\/ URL/m);
      expect(problems({ RATE_LIMIT_PER_MINUTE: '0' }).join('\n')).toMatch(/^RATE_LIMIT_PER_MINUTE: /m);
    });
  });
});
