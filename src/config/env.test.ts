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
      llm: { provider: 'offline' },
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
    expect(c.llm).toEqual({ provider: 'gemini', apiKey: 'k', model: 'gemini-2.5-flash', baseUrl: undefined });
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
});
