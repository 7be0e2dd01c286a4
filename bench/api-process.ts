// The real API as a child process (`node --import tsx src/main.ts`) on loopback, so the benchmarks
// measure what production runs: the same entry point, config parsing, logger and HTTP stack.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MAIN = path.join(REPO_ROOT, 'src', 'main.ts');
/** tsx's loader as a file URL, so that it resolves from any working directory. */
const TSX = import.meta.resolve('tsx');

export interface ProcessMemory {
  /** Resident set size now, in bytes (VmRSS). */
  rss: number;
  /** Peak resident set size since start or the last resetPeak(), in bytes (VmHWM). */
  peak: number;
}

export interface ApiProcess {
  /** http://127.0.0.1:{port} */
  url: string;
  pid: number;
  memory(): ProcessMemory;
  /**
   * A full garbage collection in the API through its inspector (HeapProfiler.collectGarbage), then
   * the V8 heap in use, in bytes. Memory read after it shows what is retained, not what is merely
   * not collected yet.
   */
  collectGarbage(): Promise<number>;
  /** Resets VmHWM (Linux clear_refs "5"); false when the kernel refuses. */
  resetPeak(): boolean;
  /** SIGTERM, then waits for the graceful shutdown (SIGKILL after 15 s). */
  stop(): Promise<void>;
  /** kill -9, as a crash or the OOM killer would, and waits for the process to be gone. */
  crash(): Promise<void>;
}

/**
 * Starts the API with exactly `env` (nothing inherited) and waits for /healthz. Every setting is
 * passed explicitly, so neither the shell nor a developer's .env can change what is measured. Give
 * DATA_DIR: it is also the working directory.
 */
export async function startApi(
  env: Record<string, string>,
  opts: {
    cpuProfileDir?: string;
    /** The entry script and its arguments: src/main.ts by default. Another one must listen on PORT and serve /healthz. */
    script?: string[];
  } = {},
): Promise<ApiProcess> {
  const port = await freePort();
  // A CPU profile (.cpuprofile, for Chrome dev tools) is written when the process exits.
  const profile = opts.cpuProfileDir ? ['--cpu-prof', `--cpu-prof-dir=${path.resolve(opts.cpuProfileDir)}`] : [];
  // The inspector on a random loopback port lets the benchmark ask for a full GC (see collectGarbage).
  // Run from the data directory rather than the repository, so that no .env file is read.
  const child = spawn(process.execPath, [...profile, '--inspect=127.0.0.1:0', '--import', TSX, ...(opts.script ?? [MAIN])], {
    cwd: env.DATA_DIR ?? REPO_ROOT,
    env: { ...env, HOST: '127.0.0.1', PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Keep the tail of the output for error messages; draining the pipes keeps the child from blocking.
  let tail = '';
  let inspectorUrl: string | undefined;
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString('utf8')).slice(-4000);
    inspectorUrl ??= /Debugger listening on (ws:\/\/[\d.:]+\/[0-9a-f-]{36})/.exec(tail)?.[1];
  };
  child.stdout!.on('data', keep);
  child.stderr!.on('data', keep);

  const url = `http://127.0.0.1:${port}`;
  const exited = once(child, 'exit');
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the API exited with code ${child.exitCode}:\n${tail}`);
    try {
      const res = await fetch(`${url}/healthz`);
      if (res.ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the API did not answer /healthz within 90 s:\n${tail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }

  const pid = child.pid!;
  return {
    url,
    pid,
    memory: () => readMemory(pid),
    collectGarbage() {
      if (!inspectorUrl) return Promise.reject(new Error('the API printed no inspector URL'));
      return collectGarbage(inspectorUrl);
    },
    resetPeak() {
      try {
        writeFileSync(`/proc/${pid}/clear_refs`, '5');
        return true;
      } catch {
        return false;
      }
    },
    async crash() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

// Run in a separate Node with the WebSocket client that Node 20 has behind a flag (no dependency).
const GC_SCRIPT = `
const ws = new WebSocket(process.argv[1]);
const send = (id, method) => ws.send(JSON.stringify({ id, method }));
ws.onopen = () => send(1, 'HeapProfiler.collectGarbage');
ws.onmessage = (event) => {
  const message = JSON.parse(event.data);
  if (message.id === 1) send(2, 'Runtime.getHeapUsage');
  if (message.id === 2) process.stdout.write(JSON.stringify(message.result), () => process.exit(0));
};
ws.onerror = () => process.exit(1);
setTimeout(() => process.exit(2), 30000);
`;

async function collectGarbage(inspectorUrl: string): Promise<number> {
  const helper = spawn(process.execPath, ['--no-warnings', '--experimental-websocket', '-e', GC_SCRIPT, inspectorUrl], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  helper.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString('utf8')));
  const [code] = (await once(helper, 'exit')) as [number | null];
  if (code !== 0) throw new Error(`the inspector helper exited with ${code}`);
  return (JSON.parse(out) as { usedSize: number }).usedSize;
}

function readMemory(pid: number): ProcessMemory {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

/** A port that was free a moment ago; the API must know its port before it listens. */
async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  await new Promise((resolve) => server.close(resolve));
  return port;
}
