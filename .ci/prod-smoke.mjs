// Drives the compiled API as the container runs it (`node dist/main.js`, HOST=0.0.0.0, so
// AUTH_MODE defaults to required) and checks it from outside: ready, one message whose audio is
// fetched and is an MP3, metrics behind the admin credential, then SIGTERM and a clean exit with no
// process left. Plain JavaScript on purpose: it runs beside a build that has no TypeScript loader.
// Usage: node .ci/prod-smoke.mjs <built app dir> <data dir>
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

const [appDir, dataDir] = process.argv.slice(2);
if (!appDir || !dataDir) throw new Error('usage: node .ci/prod-smoke.mjs <app dir> <data dir>');

const fail = (message) => {
  console.error(`prod-smoke: ${message}`);
  if (child.exitCode === null) child.kill('SIGKILL');
  console.error(output.slice(-4000));
  process.exit(1);
};
const check = (ok, message) => ok || fail(message);

const port = await new Promise((resolve) => {
  const s = createServer().listen(0, '127.0.0.1', () => {
    const { port } = s.address();
    s.close(() => resolve(port));
  });
});
const admin = randomBytes(24).toString('hex');
const origin = `http://127.0.0.1:${port}`;
const child = spawn(process.execPath, ['dist/main.js'], {
  cwd: appDir,
  env: { PATH: process.env.PATH, NODE_ENV: 'production', HOST: '0.0.0.0', PORT: String(port), DATA_DIR: dataDir, ADMIN_API_KEY: admin },
  stdio: ['ignore', 'pipe', 'pipe'],
});
let output = '';
child.stdout.on('data', (c) => (output += c));
child.stderr.on('data', (c) => (output += c));
const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve(code ?? signal)));

const auth = { authorization: `Bearer ${admin}` };
async function api(method, path, body) {
  const res = await fetch(origin + path, {
    method,
    headers: body ? { ...auth, 'content-type': 'application/json' } : auth,
    body: body ? JSON.stringify(body) : undefined,
  });
  const text = await res.text();
  check(res.ok, `${method} ${path} answered ${res.status}: ${text}`);
  return JSON.parse(text);
}

// Ready: the first start creates the embedded database, which takes a few seconds.
const started = Date.now();
for (;;) {
  if (child.exitCode !== null) fail(`the API exited with ${child.exitCode} before it was ready`);
  const res = await fetch(`${origin}/readyz`).catch(() => null);
  if (res?.status === 200) {
    check((await res.json()).status === 'ready', '/readyz answered 200 without {"status":"ready"}');
    break;
  }
  if (Date.now() - started > 90_000) fail('/readyz did not answer 200 within 90 s');
  await new Promise((r) => setTimeout(r, 250));
}
const readyMs = Date.now() - started;

// One message, with the reply's audio synthesized by the eSpeak worker (a compiled .js worker).
const session = await api('POST', '/api/chat', {});
const chat = await api('POST', `/api/chat/${session.session_id}/message`, { message: 'Hello from the production smoke test.' });
const reply = chat.history.at(-1);
check(reply?.role === 'model' && reply.content.length > 0, `no reply in ${JSON.stringify(chat)}`);
check(typeof reply.audio_url === 'string', `the reply has no audio_url: ${JSON.stringify(reply)}`);
const audio = await fetch(new URL(reply.audio_url, origin));
const mp3 = Buffer.from(await audio.arrayBuffer());
check(audio.status === 200, `GET ${reply.audio_url} answered ${audio.status}`);
check(audio.headers.get('content-type') === 'audio/mpeg', `the audio came as ${audio.headers.get('content-type')}`);
// An MP3 starts with an ID3 tag or an MPEG frame sync (11 set bits).
const isMp3 = mp3.subarray(0, 3).toString('latin1') === 'ID3' || (mp3[0] === 0xff && (mp3[1] & 0xe0) === 0xe0);
check(isMp3 && mp3.length > 1_000, `the audio is not an MP3 (${mp3.length} bytes)`);

// Metrics: behind the admin credential, with the contract's names after this flow.
const anonymous = await fetch(`${origin}/metrics`);
check(anonymous.status === 401, `/metrics without a credential answered ${anonymous.status}`);
const metrics = await fetch(`${origin}/metrics`, { headers: auth });
const text = await metrics.text();
check(metrics.status === 200, `/metrics answered ${metrics.status}`);
for (const name of ['http_request_duration_seconds', 'speech_cache_lookups_total', 'speech_characters_synthesized_total', 'process_resident_memory_bytes']) {
  check(text.includes(name), `/metrics has no ${name}`);
}

// SIGTERM: a clean exit, the port released, and no process left that runs from the build.
const pid = child.pid;
const stopAt = Date.now();
child.kill('SIGTERM');
const code = await Promise.race([exited, new Promise((r) => setTimeout(r, 20_000, 'timeout'))]);
check(code === 0, `after SIGTERM the API ended with ${code}`);
const stopMs = Date.now() - stopAt;
const portOpen = await new Promise((resolve) => {
  const socket = connect(port, '127.0.0.1', () => (socket.destroy(), resolve(true)));
  socket.on('error', () => resolve(false));
});
check(!portOpen, `port ${port} still accepts connections after the exit`);
const leftovers = readdirSync('/proc')
  .filter((d) => /^\d+$/.test(d) && Number(d) !== process.pid)
  .filter((d) => {
    try {
      return readFileSync(`/proc/${d}/cmdline`, 'latin1').includes('dist/main.js') && readFileSync(`/proc/${d}/environ`, 'latin1').includes(dataDir);
    } catch {
      return false; // ended meanwhile, or not ours to read
    }
  });
check(leftovers.length === 0, `processes left after SIGTERM: ${leftovers.join(', ')} (the API was ${pid})`);

console.log(
  `prod-smoke: passed (ready in ${readyMs} ms; reply audio ${mp3.length} bytes of audio/mpeg; /metrics behind the admin key; SIGTERM to exit 0 in ${stopMs} ms, nothing left)`,
);
