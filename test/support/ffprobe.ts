// Decodes audio with Debian's ffprobe, so that tests check that bytes really are playable audio of
// the expected length (not merely non-empty). ffprobe reads a file, so the bytes go to a temp file.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface ProbedAudio {
  /** The first audio stream's codec, e.g. "mp3". */
  codec: string;
  /** The container's duration as ffprobe reports it (it trusts a Xing/Info frame count if present). */
  durationSeconds: number;
  sampleRate: number;
}

export async function probeMp3(bytes: Uint8Array): Promise<ProbedAudio> {
  const dir = await mkdtemp(join(tmpdir(), 'probe-'));
  const file = join(dir, 'audio.mp3');
  try {
    await writeFile(file, bytes);
    const { stdout } = await run('ffprobe', [
      '-v', 'error',
      '-select_streams', 'a:0',
      '-show_entries', 'stream=codec_name,sample_rate:format=duration',
      '-of', 'json',
      file,
    ]);
    const probed = JSON.parse(stdout) as {
      streams?: { codec_name?: string; sample_rate?: string }[];
      format?: { duration?: string };
    };
    const stream = probed.streams?.[0];
    if (!stream?.codec_name) throw new Error(`ffprobe found no audio stream in ${bytes.length} bytes`);
    return {
      codec: stream.codec_name,
      durationSeconds: Number(probed.format?.duration ?? Number.NaN),
      sampleRate: Number(stream.sample_rate ?? Number.NaN),
    };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
