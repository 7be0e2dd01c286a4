// The API as an operator runs it, `node --import tsx src/main.ts` with only the environment a test
// names, for tests about the process itself: signals, crashes, restarts on the same data.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';

const ROOT = path.resolve(import.meta.dirname, '../..');

export interface ApiChild {
  child: ChildProcess;
  /** Everything the process wrote so far, stdout and stderr together. */
  output(): string;
  /** The address it listens on, once it does; rejects if the process exits first. */
  url: Promise<string>;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  exited: Promise<number | string>;
  /** kill -9: no shutdown, no cleanup, as a crash or the OOM killer would. */
  crash(): Promise<void>;
  /** SIGTERM and wait for the exit. */
  stop(): Promise<number | string>;
}

export function spawnApi(env: Record<string, string>): ApiChild {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: ROOT,
    // No inherited configuration: only what the test names (plus PATH for tsx).
    env: { PATH: process.env.PATH ?? '', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const exited = once(child, 'exit').then(([code, signal]) => (code ?? signal) as number | string);
  const url = new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /Server listening at (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`the API exited with ${code} before listening: ${out}`)));
    // The address comes from an info line: a LOG_LEVEL above info never says it.
    setTimeout(() => reject(new Error(`the API did not say where it listens within 60 s: ${out.slice(-2000)}`)), 60_000).unref();
  });
  url.catch(() => {});
  return {
    child,
    output: () => out,
    url,
    exited,
    async crash() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
  };
}
