// The one place that reads the environment. Every other module receives a typed Config.
import { existsSync } from 'node:fs';
import { z } from 'zod';

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const optionalString = z.preprocess(emptyToUndefined, z.string().optional());
const int = (min: number, max: number, dflt: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number().int().min(min).max(max).default(dflt));
const bool = (dflt: boolean) =>
  z.preprocess(
    emptyToUndefined,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(dflt ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  );
// fetch refuses URLs with user:password@ in them, and a password there would end up in logs.
const withoutCredentials = (u: string) => !/^[a-z]+:\/\/[^/]*@/i.test(u);
const CREDENTIALS_MESSAGE = 'must not contain user:password@ (keys go in their own variables)';
const httpUrl = z.preprocess(
  emptyToUndefined,
  z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .refine(withoutCredentials, CREDENTIALS_MESSAGE)
    .transform((u) => u.replace(/\/+$/, ''))
    .optional(),
);

const optionalInt = (min: number, max: number) =>
  z.preprocess(emptyToUndefined, z.coerce.number().int().min(min).max(max).optional());

/** Addresses that only this machine can reach: the API needs no credentials there by default. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[|\]$/g, '');
  return h === 'localhost' || h === '::1' || /^127(\.\d{1,3}){3}$/.test(h);
}

export const POLLY_ENGINES = ['standard', 'neural', 'long-form', 'generative'] as const;
export type PollyEngine = (typeof POLLY_ENGINES)[number];

const schema = z
  .object({
    PORT: int(0, 65535, 8000),
    HOST: z.preprocess(emptyToUndefined, z.string().default('127.0.0.1')),
    LOG_LEVEL: z.preprocess(
      emptyToUndefined,
      z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
    ),
    DATABASE_URL: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .regex(/^postgres(ql)?:\/\//, 'must start with postgres:// or postgresql://')
        .optional(),
    ),
    DATA_DIR: z.preprocess(emptyToUndefined, z.string().default('./data')),

    LLM_PROVIDER: z.preprocess(emptyToUndefined, z.enum(['gemini', 'openai', 'offline']).optional()),
    GEMINI_API_KEY: optionalString,
    GEMINI_MODEL: z.preprocess(emptyToUndefined, z.string().default('gemini-2.5-flash')),
    GEMINI_BASE_URL: httpUrl,
    OPENAI_BASE_URL: z.preprocess(
      emptyToUndefined,
      z
        .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
        .refine(withoutCredentials, CREDENTIALS_MESSAGE)
        .default('http://127.0.0.1:11434/v1'),
    ),
    OPENAI_API_KEY: optionalString,
    OPENAI_MODEL: optionalString,
    LLM_TIMEOUT_MS: int(1, 600_000, 60_000),
    LLM_HISTORY_LIMIT: int(0, 10_000, 40),
    // No model writes a million tokens; a value above the model's own ceiling is the provider's to
    // refuse or clamp, since that ceiling differs per model.
    LLM_MAX_OUTPUT_TOKENS: int(1, 1_000_000, 2048),
    MAX_MESSAGE_CHARS: int(1, 1_000_000, 10_000),
    // How long a POST waits for a reply's audio before answering with audio_url null; the
    // synthesis goes on and lands in the cache, so the next read finds it.
    SPEECH_TIMEOUT_MS: int(1, 600_000, 30_000),
    // The most speech characters synthesized for one reply (about 20 minutes at the default), the
    // note that says the rest is not read aloud included. The stored text stays whole.
    SPEECH_MAX_CHARS: int(100, 1_000_000, 20_000),
    // How often a streamed reply sends a `: ping` comment, so that proxies keep a quiet stream open.
    STREAM_PING_MS: int(10, 600_000, 15_000),
    // How long a shutdown waits for replies still being written (streamed replies whose client left
    // included). 20 s leaves the audio jobs' own 10 s drain inside the 30 s that ECS and Kubernetes
    // give a container between SIGTERM and SIGKILL.
    SHUTDOWN_TIMEOUT_MS: int(0, 600_000, 20_000),
    // Origins allowed to call the API from a browser: unset (no CORS), "*", or a comma-separated list.
    CORS_ORIGINS: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .transform((v) => v.split(',').map((o) => o.trim()).filter(Boolean))
        .refine((list) => list.every((o) => o === '*' || /^https?:\/\/[^/\s]+$/.test(o)), {
          message: 'must be "*" or a comma-separated list of origins such as http://localhost:5173',
        })
        .optional(),
    ),

    AWS_REGION: z.preprocess(emptyToUndefined, z.string().regex(/^[a-z0-9-]+$/).default('us-east-1')),
    AWS_ACCESS_KEY_ID: optionalString,
    AWS_SECRET_ACCESS_KEY: optionalString,
    AWS_SESSION_TOKEN: optionalString,
    S3_BUCKET_NAME: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'must be a valid S3 bucket name')
        .optional(),
    ),
    S3_ENDPOINT: httpUrl,
    S3_FORCE_PATH_STYLE: bool(false),
    POLLY_ENDPOINT: httpUrl,
    DEFAULT_POLLY_VOICE_ID: z.preprocess(
      emptyToUndefined,
      z.string().regex(/^[A-Za-z0-9-]{1,100}$/, 'must be a voice id such as Joanna').default('Joanna'),
    ),
    POLLY_ENGINE: z.preprocess(emptyToUndefined, z.enum(POLLY_ENGINES).default('neural')),
    AUDIO_PUBLIC_BASE_URL: z.preprocess(
      emptyToUndefined,
      z
        .string()
        .regex(/^(https?:\/\/[^\s]+|\/[^\s]*)$/, 'must be an http(s) URL or a path starting with /')
        .transform((u) => u.replace(/\/+$/, ''))
        .optional(),
    ),
    AUDIO_URL_MODE: z.preprocess(emptyToUndefined, z.enum(['public', 'presigned']).default('public')),
    // SigV4 presigned URLs cannot live longer than 7 days.
    AUDIO_URL_TTL: int(60, 604_800, 86_400),
    // Segments of letters, digits, '-' and '_', each followed by '/'. No dots, so no '..'.
    AUDIO_KEY_PREFIX: z
      .string()
      .regex(/^([A-Za-z0-9_-]+\/)*$/, "must be '' or folder names of letters, digits, '-' or '_', each ending in '/'")
      .optional(),

    // Unset: none on a loopback HOST, required on any other (see superRefine and parseConfig).
    AUTH_MODE: z.preprocess(emptyToUndefined, z.enum(['none', 'required']).optional()),
    // Zod's messages never quote the value, so a short key is refused without being printed.
    ADMIN_API_KEY: z.preprocess(emptyToUndefined, z.string().min(32, 'must be at least 32 characters').optional()),
    AUTH_JWKS_URL: httpUrl,
    AUTH_JWT_ISSUER: optionalString,
    AUTH_JWT_AUDIENCE: optionalString,
    RATE_LIMIT_PER_MINUTE: optionalInt(1, 1_000_000),
    MESSAGE_RATE_LIMIT_PER_MINUTE: optionalInt(1, 1_000_000),
    // A password in the URL (redis://:secret@host:6379) is how ElastiCache and most hosts take it,
    // so it is allowed here; the URL is never logged.
    REDIS_URL: z.preprocess(
      emptyToUndefined,
      z.string().regex(/^rediss?:\/\/\S+$/, 'must be a redis:// or rediss:// URL').optional(),
    ),
  })
  .superRefine((env, ctx) => {
    if (env.LLM_PROVIDER === 'gemini' && !env.GEMINI_API_KEY) {
      ctx.addIssue({ code: 'custom', path: ['GEMINI_API_KEY'], message: 'is required when LLM_PROVIDER=gemini' });
    }
    if (env.LLM_PROVIDER === 'openai' && !env.OPENAI_MODEL) {
      ctx.addIssue({
        code: 'custom',
        path: ['OPENAI_MODEL'],
        message: 'is required when LLM_PROVIDER=openai (for example llama3.2 on Ollama)',
      });
    }
    if (Boolean(env.AWS_ACCESS_KEY_ID) !== Boolean(env.AWS_SECRET_ACCESS_KEY)) {
      ctx.addIssue({
        code: 'custom',
        path: [env.AWS_ACCESS_KEY_ID ? 'AWS_SECRET_ACCESS_KEY' : 'AWS_ACCESS_KEY_ID'],
        message: 'AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together',
      });
    }
    if (env.AUDIO_URL_MODE === 'presigned' && !env.S3_BUCKET_NAME) {
      ctx.addIssue({ code: 'custom', path: ['AUDIO_URL_MODE'], message: 'presigned needs S3_BUCKET_NAME' });
    }
    if (authModeOf(env) === 'required' && !env.ADMIN_API_KEY) {
      ctx.addIssue({
        code: 'custom',
        path: ['ADMIN_API_KEY'],
        message: env.AUTH_MODE
          ? 'is required when AUTH_MODE=required (at least 32 characters)'
          : `is required when HOST (${env.HOST}) is not a loopback address, where AUTH_MODE defaults to required (at least 32 characters; or set AUTH_MODE=none)`,
      });
    }
    if (env.AUTH_JWKS_URL && !env.AUTH_JWT_ISSUER) {
      ctx.addIssue({ code: 'custom', path: ['AUTH_JWT_ISSUER'], message: 'is required when AUTH_JWKS_URL is set' });
    }
    if (!env.AUTH_JWKS_URL && (env.AUTH_JWT_ISSUER || env.AUTH_JWT_AUDIENCE)) {
      ctx.addIssue({
        code: 'custom',
        path: ['AUTH_JWKS_URL'],
        message: 'is required when AUTH_JWT_ISSUER or AUTH_JWT_AUDIENCE is set',
      });
    }
  });

function authModeOf(env: { AUTH_MODE?: 'none' | 'required' | undefined; HOST: string }): 'none' | 'required' {
  return env.AUTH_MODE ?? (isLoopbackHost(env.HOST) ? 'none' : 'required');
}

export type Env = z.infer<typeof schema>;

export interface Config {
  port: number;
  host: string;
  logLevel: Env['LOG_LEVEL'];
  dataDir: string;
  /** Unset: the embedded PGlite database under dataDir. */
  databaseUrl: string | undefined;
  llm: (
    | { provider: 'offline' }
    | { provider: 'gemini'; apiKey: string; model: string; baseUrl: string | undefined }
    | { provider: 'openai'; apiKey: string | undefined; model: string; baseUrl: string }
  ) & {
    /** The longest reply the LLM may write, in tokens (LLM_MAX_OUTPUT_TOKENS). */
    maxOutputTokens: number;
  };
  llmTimeoutMs: number;
  llmHistoryLimit: number;
  maxMessageChars: number;
  speechTimeoutMs: number;
  streamPingMs: number;
  shutdownTimeoutMs: number;
  speechMaxChars: number;
  /** Undefined: no CORS headers. ['*']: any origin. */
  corsOrigins: string[] | undefined;
  aws: {
    region: string;
    /** Unset: the SDK's default credential chain (profile, SSO, container or instance role). */
    credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string } | undefined;
  };
  defaultVoiceId: string;
  speech: { engine: 'espeak' } | { engine: 'polly'; pollyEngine: PollyEngine; endpoint: string | undefined };
  storage:
    | { kind: 'file'; publicBaseUrl: string | undefined }
    | {
        kind: 's3';
        bucket: string;
        endpoint: string | undefined;
        forcePathStyle: boolean;
        publicBaseUrl: string | undefined;
        urlMode: 'public' | 'presigned';
        urlTtlSeconds: number;
      };
  /** Undefined: the default prefix, derived from the speech engine (see storage/audio-key.ts). */
  audioKeyPrefix: string | undefined;
  auth:
    | {
        /** Every request acts as the admin whose owner is 'local'. */
        mode: 'none';
        /** True when HOST is not a loopback address: anyone who reaches it is an admin. */
        exposed: boolean;
      }
    | {
        mode: 'required';
        adminApiKey: string;
        /** Undefined: JWTs are not accepted. */
        jwt: { jwksUrl: string; issuer: string; audience: string | undefined } | undefined;
      };
  rateLimits: {
    /** Requests per principal per minute under /api; undefined for no limit. */
    perMinute: number | undefined;
    /** Messages and voice previews per principal per minute; undefined for no limit. */
    messagesPerMinute: number | undefined;
    /** Undefined: counts are kept in this process only. */
    redisUrl: string | undefined;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.name = 'ConfigError';
  }
}

/** Parses an environment (process.env by default) into a Config, or throws ConfigError naming each bad variable. */
export function parseConfig(source: Record<string, string | undefined>): Config {
  const parsed = schema.safeParse(source);
  if (!parsed.success) {
    throw new ConfigError(parsed.error.issues.map((i) => `${i.path.join('.') || '(environment)'}: ${i.message}`));
  }
  const env = parsed.data;
  const provider = env.LLM_PROVIDER ?? (env.GEMINI_API_KEY ? 'gemini' : 'offline');
  const authMode = authModeOf(env);
  const maxOutputTokens = env.LLM_MAX_OUTPUT_TOKENS;
  const llm: Config['llm'] =
    provider === 'gemini'
      ? { provider, apiKey: env.GEMINI_API_KEY!, model: env.GEMINI_MODEL, baseUrl: env.GEMINI_BASE_URL, maxOutputTokens }
      : provider === 'openai'
        ? { provider, apiKey: env.OPENAI_API_KEY, model: env.OPENAI_MODEL!, baseUrl: env.OPENAI_BASE_URL, maxOutputTokens }
        : { provider, maxOutputTokens };
  return {
    port: env.PORT,
    host: env.HOST,
    logLevel: env.LOG_LEVEL,
    dataDir: env.DATA_DIR,
    databaseUrl: env.DATABASE_URL,
    llm,
    llmTimeoutMs: env.LLM_TIMEOUT_MS,
    llmHistoryLimit: env.LLM_HISTORY_LIMIT,
    maxMessageChars: env.MAX_MESSAGE_CHARS,
    speechTimeoutMs: env.SPEECH_TIMEOUT_MS,
    streamPingMs: env.STREAM_PING_MS,
    shutdownTimeoutMs: env.SHUTDOWN_TIMEOUT_MS,
    speechMaxChars: env.SPEECH_MAX_CHARS,
    corsOrigins: env.CORS_ORIGINS,
    aws: {
      region: env.AWS_REGION,
      credentials:
        env.AWS_ACCESS_KEY_ID && env.AWS_SECRET_ACCESS_KEY
          ? {
              accessKeyId: env.AWS_ACCESS_KEY_ID,
              secretAccessKey: env.AWS_SECRET_ACCESS_KEY,
              ...(env.AWS_SESSION_TOKEN ? { sessionToken: env.AWS_SESSION_TOKEN } : {}),
            }
          : undefined,
    },
    defaultVoiceId: env.DEFAULT_POLLY_VOICE_ID,
    // A bucket selects the AWS pair, S3 and Polly; without one everything stays on this machine.
    speech: env.S3_BUCKET_NAME
      ? { engine: 'polly', pollyEngine: env.POLLY_ENGINE, endpoint: env.POLLY_ENDPOINT }
      : { engine: 'espeak' },
    storage: env.S3_BUCKET_NAME
      ? {
          kind: 's3',
          bucket: env.S3_BUCKET_NAME,
          endpoint: env.S3_ENDPOINT,
          forcePathStyle: env.S3_FORCE_PATH_STYLE,
          publicBaseUrl: env.AUDIO_PUBLIC_BASE_URL,
          urlMode: env.AUDIO_URL_MODE,
          urlTtlSeconds: env.AUDIO_URL_TTL,
        }
      : { kind: 'file', publicBaseUrl: env.AUDIO_PUBLIC_BASE_URL },
    audioKeyPrefix: env.AUDIO_KEY_PREFIX,
    auth:
      authMode === 'none'
        ? { mode: 'none', exposed: !isLoopbackHost(env.HOST) }
        : {
            mode: 'required',
            adminApiKey: env.ADMIN_API_KEY!,
            jwt: env.AUTH_JWKS_URL
              ? { jwksUrl: env.AUTH_JWKS_URL, issuer: env.AUTH_JWT_ISSUER!, audience: env.AUTH_JWT_AUDIENCE }
              : undefined,
          },
    // Limits protect a public API's bill; on a developer's own machine they only get in the way.
    rateLimits: {
      perMinute: env.RATE_LIMIT_PER_MINUTE ?? (authMode === 'required' ? 300 : undefined),
      messagesPerMinute: env.MESSAGE_RATE_LIMIT_PER_MINUTE ?? (authMode === 'required' ? 20 : undefined),
      redisUrl: env.REDIS_URL,
    },
  };
}

/**
 * Reads `.env` from the working directory (variables already set win, as in dotenv),
 * then parses process.env. Node 20.12+ reads .env files natively, so no dotenv dependency.
 */
export function loadConfig(envFile = '.env'): Config {
  if (existsSync(envFile)) process.loadEnvFile(envFile);
  return parseConfig(process.env);
}

/** For the processes (API and CLIs): the config, or exit 1 with a message naming each bad variable. */
export function loadConfigOrExit(): Config {
  try {
    return loadConfig();
  } catch (err) {
    // The message names each bad variable, never its value (which may be a secret).
    console.error(err instanceof ConfigError ? err.message : err);
    process.exit(1);
  }
}
