// Scenario 7: what checking a credential adds to GET /api/chat/{id} at 100 messages. One API process
// per credential, side by side on copies of the same seeded database (see BenchDatabase.fork), all
// with the same environment but for access control:
//   - no auth: AUTH_MODE=none, every request is the local admin and nothing is checked (the baseline);
//   - AUTH_MODE=required, with a JWKS from a loopback identity provider (bench/identity-provider.ts):
//     - an API key made through POST /api/keys (SHA-256, looked up in the database, then trusted for
//       2 s from the process's cache);
//     - an RS256 JWT (jose's jwtVerify against the key set, fetched once and cached);
//     - the admin key (one SHA-256 and a constant-time compare): a check that costs almost nothing,
//       so its gap to no auth shows how much two processes differ when neither does any real check.
// Why one process each: requests take turns, and a process that serves a larger share of them keeps
// its caches warmer. With two or three credentials in one process, its database phase ran 17-28%
// faster than the no-auth process's, and an API key came out 13-25% cheaper than no auth.
// Every process runs the same rate limiter, set far above what the run sends, so that the only
// difference is the credential. Each credential reads a session of its owner with the same 100
// messages: no auth and the admin key the 'local' one, the API key its owner_id's, the JWT its sub's.
// The credentials take turns in a shuffled order, one request at a time, then in autocannon runs,
// so that they share the machine's noise; the history-read scenario's helpers do the measuring.
import { randomBytes } from 'node:crypto';
import autocannon from 'autocannon';
import { createAuthenticator } from '../../src/access/credentials.ts';
import { createJwtVerifier } from '../../src/access/jwt.ts';
import { LOCAL_OWNER } from '../../src/access/principal.ts';
import { startApi, type ApiProcess } from '../api-process.ts';
import { sleep, type Plan } from '../context.ts';
import { getSession, timedRequest } from '../http.ts';
import { JWT_ALG, startIdentityProvider, type IdentityProvider } from '../identity-provider.ts';
import type { Peers } from '../peers.ts';
import type { BenchDatabase, BenchFork } from '../seed.ts';
import { seededRandom, shuffled, summarize, type Stat } from '../stats.ts';

/** The history length read, in messages. */
export const AUTH_SIZE = 100;
/** The owner_id of the API key made for the run, and the sub of its JWT. */
export const KEY_OWNER = 'bench-key-owner';
export const JWT_SUBJECT = 'bench-jwt-user';

export type Credential = 'none' | 'admin' | 'key' | 'jwt';

/** The owners that need a seeded session: 'local' (no auth and the admin key), the key's owner_id, the JWT's sub. */
export const AUTH_OWNERS = { local: LOCAL_OWNER, key: KEY_OWNER, jwt: JWT_SUBJECT } as const;

/** A session of AUTH_SIZE messages for each of AUTH_OWNERS. */
export type AuthSessions = Record<keyof typeof AUTH_OWNERS, string>;

export interface AuthVariant {
  credential: Credential;
  label: string;
  /** One request at a time (ms), taking turns with the other credentials. */
  sequentialMs: Stat;
  /** The handler's database phase (Server-Timing) of those requests: the same work whatever the credential. */
  dbMs: Stat;
  /** Per autocannon run. */
  reqPerSec: Stat;
  latencyP50: Stat;
  latencyP99: Stat;
}

export interface AuthOverhead {
  credential: Exclude<Credential, 'none'>;
  /** Median one at a time / no auth's, minus 1. */
  ofMedian: number;
  /** The same difference in ms. */
  medianDeltaMs: number;
  /** Median one at a time / the admin key's, minus 1: the check beyond a credential that costs almost nothing. */
  vsAdmin: number;
  /** Time per request under load (1 / req/s) / no auth's, minus 1. */
  byThroughput: number;
}

export interface AuthResult {
  size: number;
  /** 'none' first, then 'admin', 'key', 'jwt'. */
  variants: AuthVariant[];
  overheads: AuthOverhead[];
  /**
   * The product's authenticate() alone, in the benchmark's own process, µs per call, one value per
   * batch of calls: the admin key (SHA-256, compare), the API key once cached (SHA-256 twice and a
   * map lookup) and the JWT (jose's jwtVerify, RS256).
   */
  inProcessUs: Record<Exclude<Credential, 'none'>, Stat>;
  /** Fetches of the JWKS by the API: 1 when it cached the key set, as it should. */
  jwksFetches: number;
}

export interface AuthScenarioInput {
  database: BenchDatabase;
  peers: Peers;
  plan: Plan;
  sessions: AuthSessions;
  cpuProfileDir?: string;
  log(line: string): void;
}

/** Must run while no other process has the database open (PGlite): it forks the database, once per credential. */
export async function authScenario(input: AuthScenarioInput): Promise<AuthResult> {
  const { database, peers, plan, sessions, log } = input;
  const forks: BenchFork[] = [];
  const apis: ApiProcess[] = [];
  let idp: IdentityProvider | undefined;
  try {
    idp = await startIdentityProvider();
    const adminKey = randomBytes(32).toString('base64url');
    // Far above what the run sends, but set, so that every process counts every request alike.
    const limits = { RATE_LIMIT_PER_MINUTE: '1000000', MESSAGE_RATE_LIMIT_PER_MINUTE: '1000000' };
    const required = {
      AUTH_MODE: 'required',
      ADMIN_API_KEY: adminKey,
      AUTH_JWKS_URL: idp.jwksUrl,
      AUTH_JWT_ISSUER: idp.issuer,
      AUTH_JWT_AUDIENCE: idp.audience,
    };
    const modes: Array<Record<string, string>> = [{ AUTH_MODE: 'none' }, required, required, required];
    log(`  auth: starting ${modes.length} APIs, one per credential: AUTH_MODE=none, and AUTH_MODE=required for the others`);
    for (let i = 0; i < modes.length; i++) forks.push(database.fork());
    const started = await Promise.allSettled(
      modes.map((mode, i) => startApi({ ...peers.apiEnv, ...forks[i]!.apiEnv, ...limits, ...mode }, { cpuProfileDir: input.cpuProfileDir })),
    );
    // Whatever started is stopped in `finally`, even when another failed.
    for (const s of started) if (s.status === 'fulfilled') apis.push(s.value);
    for (const s of started) if (s.status === 'rejected') throw s.reason;
    const [noneApi, adminApi, keyApi, jwtApi] = apis as [ApiProcess, ApiProcess, ApiProcess, ApiProcess];

    const admin = { authorization: `Bearer ${adminKey}` };
    const { body: made } = await timedRequest<{ key: string }>(
      keyApi.url,
      'POST',
      '/api/keys',
      { name: 'auth benchmark', role: 'user', owner_id: KEY_OWNER },
      admin,
    );
    const key = { authorization: `Bearer ${made.key}` };
    const token = await idp.sign(JWT_SUBJECT);
    const jwt = { authorization: `Bearer ${token}` };
    const variants: Array<{ credential: Credential; label: string; api: ApiProcess; id: string; headers: Record<string, string> }> = [
      { credential: 'none', label: 'no auth (AUTH_MODE=none)', api: noneApi, id: sessions.local, headers: {} },
      { credential: 'admin', label: 'admin key (ADMIN_API_KEY)', api: adminApi, id: sessions.local, headers: admin },
      { credential: 'key', label: 'API key (cbx_…, SHA-256)', api: keyApi, id: sessions.key, headers: key },
      { credential: 'jwt', label: `JWT (${JWT_ALG}, JWKS)`, api: jwtApi, id: sessions.jwt, headers: jwt },
    ];

    // The rules hold before anything is timed: each credential reads its own owner's sessions only.
    await expectStatus(keyApi, sessions.key, {}, 401);
    await expectStatus(keyApi, sessions.jwt, key, 404);
    await expectStatus(jwtApi, sessions.key, jwt, 404);
    await expectStatus(jwtApi, sessions.local, jwt, 404);

    // Warm-up: JIT, WebAssembly tiers and pools, every process at once, then a full GC in each.
    log(`  auth: warm-up, ${plan.durationSec} s of autocannon on every process at once`);
    await Promise.all(variants.map((v) => load(v.api.url, `/api/chat/${v.id}`, v.headers, plan.connections, plan.durationSec)));
    await Promise.all(apis.map((api) => api.collectGarbage().catch(() => NaN)));
    await sleep(200);

    log(`  auth: ${plan.authSamples} GETs per credential, one at a time, in turns`);
    const random = seededRandom(7);
    const sequential = new Map<Credential, number[]>(variants.map((v) => [v.credential, []]));
    const db = new Map<Credential, number[]>(variants.map((v) => [v.credential, []]));
    for (let i = 0; i < plan.authSamples; i++) {
      for (const v of shuffled(variants, random)) {
        const res = await getSession(v.api.url, v.id, v.headers);
        if (res.body.history.length < AUTH_SIZE - 1) throw new Error(`the ${v.credential} session returned ${res.body.history.length} messages`);
        sequential.get(v.credential)!.push(res.ms);
        db.get(v.credential)!.push(res.phases.db ?? NaN);
      }
    }

    log(`  auth: ${plan.reps} × ${plan.durationSec} s of autocannon per credential, in turns`);
    const runs = new Map<Credential, { reqPerSec: number[]; p50: number[]; p99: number[] }>(
      variants.map((v) => [v.credential, { reqPerSec: [], p50: [], p99: [] }]),
    );
    for (let rep = 0; rep < plan.reps; rep++) {
      for (const v of shuffled(variants, random)) {
        const result = await load(v.api.url, `/api/chat/${v.id}`, v.headers, plan.connections, plan.durationSec);
        const r = runs.get(v.credential)!;
        r.reqPerSec.push(result.requests.total / result.duration);
        r.p50.push(result.latency.p50);
        r.p99.push(result.latency.p99);
      }
    }

    const out: AuthVariant[] = variants.map((v) => {
      const r = runs.get(v.credential)!;
      return {
        credential: v.credential,
        label: v.label,
        sequentialMs: summarize(sequential.get(v.credential)!),
        dbMs: summarize(db.get(v.credential)!),
        reqPerSec: summarize(r.reqPerSec),
        latencyP50: summarize(r.p50),
        latencyP99: summarize(r.p99),
      };
    });
    const [none, adminRow] = out as [AuthVariant, AuthVariant];
    // Only the JWT's process verifies tokens; read before authenticateAlone fetches the key set once more.
    const jwksFetches = idp.fetches();
    const overheads = out.slice(1).map(
      (v): AuthOverhead => ({
        credential: v.credential as AuthOverhead['credential'],
        ofMedian: v.sequentialMs.median / none.sequentialMs.median - 1,
        medianDeltaMs: v.sequentialMs.median - none.sequentialMs.median,
        vsAdmin: v.sequentialMs.median / adminRow.sequentialMs.median - 1,
        byThroughput: none.reqPerSec.median / v.reqPerSec.median - 1,
      }),
    );

    log('  auth: authenticate() alone');
    const inProcessUs = await authenticateAlone(idp, adminKey, made.key, token, plan.authSamples);
    return { size: AUTH_SIZE, variants: out, overheads, inProcessUs, jwksFetches };
  } finally {
    await Promise.all(apis.map((api) => api.stop()));
    await idp?.close();
    for (const fork of forks) fork.destroy();
  }
}

async function load(url: string, path: string, headers: Record<string, string>, connections: number, duration: number) {
  const result = await autocannon({ url, connections, duration, requests: [{ method: 'GET', path, headers }] });
  if (result.errors || result.timeouts || result.non2xx) {
    throw new Error(`GET ${path}: ${result.errors} errors, ${result.timeouts} timeouts, ${result.non2xx} non-2xx`);
  }
  return result;
}

async function expectStatus(api: ApiProcess, id: string, headers: Record<string, string>, status: number) {
  const res = await fetch(`${api.url}/api/chat/${id}`, { headers });
  await res.arrayBuffer();
  if (res.status !== status) throw new Error(`GET /api/chat/${id} answered ${res.status}, expected ${status}`);
}

/**
 * The product's authenticator in this process, on the same credentials: the API key from a stub
 * repository (every call after the first is a cache hit, as in the API) and the JWT against the
 * identity provider's JWKS (fetched once). Batches of calls, one at a time, µs per call.
 */
async function authenticateAlone(idp: IdentityProvider, adminKey: string, key: string, token: string, samples: number) {
  const authenticator = createAuthenticator({
    adminApiKey: adminKey,
    apiKeys: {
      findByHash: async (keyHash) => ({
        id: '00000000-0000-4000-8000-000000000000',
        name: 'auth benchmark',
        role: 'user' as const,
        ownerId: KEY_OWNER,
        keyHash,
        keyPrefix: key.slice(0, 12),
        createdAt: new Date(),
      }),
    },
    jwt: createJwtVerifier({ jwksUrl: idp.jwksUrl, issuer: idp.issuer, audience: idp.audience }),
  });
  const BATCH = 50;
  const batches = Math.max(3, Math.round(samples / 10));
  const time = async (credential: string) => {
    for (let i = 0; i < 10 * BATCH; i++) await authenticator.authenticate(credential); // warm-up (and the JWKS fetch)
    const perCall: number[] = [];
    for (let b = 0; b < batches; b++) {
      const start = performance.now();
      for (let i = 0; i < BATCH; i++) await authenticator.authenticate(credential);
      perCall.push(((performance.now() - start) * 1000) / BATCH);
    }
    return summarize(perCall);
  };
  return { admin: await time(adminKey), key: await time(key), jwt: await time(token) };
}
