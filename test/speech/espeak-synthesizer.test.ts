import { execFile } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { SpeechError } from '../../src/errors.ts';
import { createEspeakSynthesizer } from '../../src/speech/engines/espeak/espeak-synthesizer.ts';
import { createEspeakVoiceCatalogue } from '../../src/speech/engines/espeak/espeak-voice-catalogue.ts';
import { ESPEAK_VOICES, espeakVoiceFor } from '../../src/speech/engines/espeak/espeak-voices.ts';
import { createWorkerPool } from '../../src/speech/engines/worker-pool.ts';
import { POLLY_VOICE_TABLE } from '../../src/speech/polly-voice-table.ts';
import { mp3DurationSeconds } from '../support/mp3-duration.ts';
import { probeMp3 } from '../support/ffprobe.ts';

const SENTENCE = 'Hello there. This is a short test of the offline voice.';

describe('eSpeak synthesizer', () => {
  const synthesizer = createEspeakSynthesizer();
  afterAll(() => synthesizer.close());

  it('names its engine, its limit per call and its capacity', () => {
    expect(synthesizer.id).toBe('espeak-v1-mp3');
    // Short enough that a call nobody can interrupt ends within about 1.5 s.
    expect(synthesizer.maxChars).toBe(1200);
    // Two worker threads whatever the cores, so that one long reply leaves one for the others.
    expect(synthesizer.concurrency).toBe(2);
    expect(createEspeakSynthesizer({ workers: 1 }).concurrency).toBe(1);
  });

  it('speaks a sentence as MP3 in a female and a male voice that differ', async () => {
    const joanna = await synthesizer.synthesize(SENTENCE, 'Joanna');
    const matthew = await synthesizer.synthesize(SENTENCE, 'Matthew');
    for (const mp3 of [joanna, matthew]) {
      const probed = await probeMp3(mp3);
      expect(probed.codec).toBe('mp3');
      expect(probed.sampleRate).toBe(22050);
      expect(probed.durationSeconds).toBeGreaterThan(0.5);
      expect(probed.durationSeconds).toBeLessThan(10);
    }
    expect(Buffer.from(joanna).equals(Buffer.from(matthew))).toBe(false);
  });

  it('is deterministic and takes longer for longer text', async () => {
    const once = await synthesizer.synthesize('One two three.', 'Amy');
    const again = await synthesizer.synthesize('One two three.', 'Amy');
    expect(Buffer.from(once).equals(Buffer.from(again))).toBe(true);
    const longer = await synthesizer.synthesize('One two three. Four five six. Seven eight nine ten.', 'Amy');
    expect(mp3DurationSeconds(longer)).toBeGreaterThan(mp3DurationSeconds(once) * 1.5);
  });

  it('gives the same bytes in a later second (eSpeak seeds its noise from the clock)', async () => {
    const once = await synthesizer.synthesize('Fresh fish, sixty six.', 'Joanna');
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const again = await synthesizer.synthesize('Fresh fish, sixty six.', 'Joanna');
    expect(Buffer.from(once).equals(Buffer.from(again))).toBe(true);
  });

  it('reads text that starts with a dash instead of taking it for an option', async () => {
    const mp3 = await synthesizer.synthesize('-v minus five degrees today.', 'Hans');
    expect((await probeMp3(mp3)).durationSeconds).toBeGreaterThan(0.5);
  });

  it('speaks non-Latin scripts', async () => {
    const mp3 = await synthesizer.synthesize('Здравствуйте, как дела?', 'Tatyana');
    expect(mp3DurationSeconds(mp3)).toBeGreaterThan(0.5);
  });

  it('speaks concurrent calls independently', async () => {
    const texts = ['First.', 'Second one here.', 'The third sentence is longer than the others.'];
    const results = await Promise.all(texts.map((text) => synthesizer.synthesize(text, 'Lea')));
    const durations = results.map(mp3DurationSeconds);
    expect(durations[0]).toBeLessThan(durations[1] ?? 0);
    expect(durations[1]).toBeLessThan(durations[2] ?? 0);
  });

  it('produces audio with every eSpeak voice it maps to', async () => {
    const voices = [...new Set(Object.values(ESPEAK_VOICES))].sort();
    // One Polly voice per distinct eSpeak voice is enough to exercise every mapping.
    const representatives = voices.map((espeakVoice) => {
      const voice = POLLY_VOICE_TABLE.find((v) => espeakVoiceFor(v.id) === espeakVoice);
      if (!voice) throw new Error(`no Polly voice maps to ${espeakVoice}`);
      return voice.id;
    });
    for (const id of representatives) {
      const mp3 = await synthesizer.synthesize('One, two, three.', id);
      expect(mp3DurationSeconds(mp3), id).toBeGreaterThan(0.3);
    }
    // ffprobe on a sample, to be sure the frames really decode.
    const sample = await synthesizer.synthesize('One, two, three.', representatives.at(-1) ?? 'Joanna');
    expect((await probeMp3(sample)).codec).toBe('mp3');
  }, 120_000);

  it('rejects an unknown voice with a SpeechError', async () => {
    await expect(synthesizer.synthesize(SENTENCE, 'Bogus')).rejects.toBeInstanceOf(SpeechError);
    await expect(synthesizer.synthesize(SENTENCE, 'joanna')).rejects.toThrow(/joanna/);
  });

  it('rejects text over its limit and empty text', async () => {
    const small = createEspeakSynthesizer({ maxChars: 10 });
    await expect(small.synthesize('This is longer than ten.', 'Joanna')).rejects.toBeInstanceOf(SpeechError);
    await expect(synthesizer.synthesize('   ', 'Joanna')).rejects.toBeInstanceOf(SpeechError);
  });
});

describe('eSpeak synthesizer threads', () => {
  const REPLY = 'The weather today is mild, with a light breeze from the west and a few clouds in the afternoon.';

  it('synthesizes off the main thread, which keeps running meanwhile', async () => {
    const synthesizer = createEspeakSynthesizer({ workers: 1 });
    try {
      await synthesizer.synthesize('Warm up.', 'Joanna'); // the worker's start is not what is measured
      let turns = 0;
      let settled = false;
      const spin = () => {
        if (settled) return;
        turns += 1;
        setImmediate(spin);
      };
      setImmediate(spin);
      const mp3 = await synthesizer.synthesize(REPLY, 'Joanna').finally(() => {
        settled = true;
      });
      expect(mp3DurationSeconds(mp3)).toBeGreaterThan(3);
      // On the main thread, eSpeak and the encoder ran in one synchronous stretch: 0 turns.
      expect(turns).toBeGreaterThan(1000);
    } finally {
      await synthesizer.close();
    }
  });

  it('after close(), fails the call in flight and every later call with a SpeechError', async () => {
    const synthesizer = createEspeakSynthesizer({ workers: 1 });
    await synthesizer.synthesize('Warm up.', 'Joanna');
    const inFlight = expect(synthesizer.synthesize(REPLY, 'Joanna')).rejects.toThrow('the eSpeak synthesizer is closed');
    const waiting = expect(synthesizer.synthesize(REPLY, 'Matthew')).rejects.toThrow('the eSpeak synthesizer is closed');
    await synthesizer.close();
    await inFlight;
    await waiting;
    await expect(synthesizer.synthesize(SENTENCE, 'Joanna')).rejects.toBeInstanceOf(SpeechError);
    await synthesizer.close(); // twice is fine
  });

  // A child process, as the CLIs and `npm start` run: it must end by itself once idle, closed or not.
  for (const close of [false, true]) {
    it(`lets a process exit by itself after speaking${close ? ', with close()' : ', without close()'}`, async () => {
      const module = new URL('../../src/speech/engines/espeak/espeak-synthesizer.ts', import.meta.url).href;
      const script = [
        `import { createEspeakSynthesizer } from ${JSON.stringify(module)};`,
        `const synthesizer = createEspeakSynthesizer();`,
        `const [a, b] = await Promise.all([synthesizer.synthesize('One.', 'Joanna'), synthesizer.synthesize('Two.', 'Hans')]);`,
        `console.log(a.length + b.length);`,
        close ? `await synthesizer.close();` : '',
      ].join('\n');
      const { code, stdout, stderr } = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
        const child = execFile(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { timeout: 20_000 }, (_err, stdout, stderr) =>
          resolve({ code: child.exitCode, stdout, stderr }),
        );
      });
      expect(stderr).toBe('');
      expect(code).toBe(0); // null when the timeout had to kill it
      expect(Number(stdout.trim())).toBeGreaterThan(1000);
    });
  }
});

describe('worker pool', () => {
  // A real worker script that answers, fails, exits or throws as each job asks.
  const script = new URL(
    `data:text/javascript,${encodeURIComponent(`
      import { parentPort, threadId } from 'node:worker_threads';
      parentPort.on('message', ({ id, job }) => {
        if (job === 'exit') process.exit(3);
        if (job === 'throw') throw new Error('boom');
        if (job === 'fail') return parentPort.postMessage({ id, ok: false, message: 'no such thing' });
        setTimeout(() => parentPort.postMessage({ id, ok: true, value: threadId }), 20);
      });
    `)}`,
  );

  it('runs at most its size of jobs at once and queues the rest', async () => {
    for (const size of [1, 2]) {
      const pool = createWorkerPool<string, number>(script, size);
      try {
        const threads = await Promise.all(Array.from({ length: 6 }, () => pool.run('ok')));
        expect(new Set(threads).size).toBe(size);
      } finally {
        await pool.close();
      }
    }
  });

  it('turns a failure the worker reports into a SpeechError with its message', async () => {
    const pool = createWorkerPool<string, number>(script, 1);
    try {
      await expect(pool.run('fail')).rejects.toSatisfy((err) => err instanceof SpeechError && err.message === 'no such thing');
      expect(await pool.run('ok')).toBeGreaterThan(0);
    } finally {
      await pool.close();
    }
  });

  it('fails only the job of a crashed worker and starts a new worker for the next', async () => {
    const pool = createWorkerPool<string, number>(script, 2);
    try {
      const first = await pool.run('ok');
      const [exited, other] = await Promise.allSettled([pool.run('exit'), pool.run('ok')]);
      expect(exited.status === 'rejected' && exited.reason).toBeInstanceOf(SpeechError);
      expect(exited.status === 'rejected' && String(exited.reason)).toMatch(/exit code 3/);
      expect(other.status).toBe('fulfilled');
      await expect(pool.run('throw')).rejects.toThrow(/boom/);
      // Both crashed workers are gone; the next jobs run on new ones.
      const after = await Promise.all([pool.run('ok'), pool.run('ok')]);
      expect(after.every((id) => id > first)).toBe(true);
    } finally {
      await pool.close();
    }
  });

  it('refuses a size below one', () => {
    expect(() => createWorkerPool(script, 0)).toThrow(RangeError);
  });
});

describe('espeakVoiceFor', () => {
  it('maps Polly voices to eSpeak voices of their language and gender', () => {
    expect(espeakVoiceFor('Joanna')).toBe('en-us+f3');
    expect(espeakVoiceFor('Matthew')).toBe('en-us');
    expect(espeakVoiceFor('Amy')).toBe('en-gb-x-rp+f3');
    expect(espeakVoiceFor('Hans')).toBe('de');
    expect(espeakVoiceFor('Lea')).toBe('fr+f3');
    expect(espeakVoiceFor('Mia')).toBe('es-419+f3');
  });

  it('maps every voice of the table, female voices to female variants', () => {
    for (const voice of POLLY_VOICE_TABLE) {
      const espeak = espeakVoiceFor(voice.id);
      expect(espeak, voice.id).toBeDefined();
      if (voice.gender === 'Female') expect(espeak, voice.id).toMatch(/\+f\d$/);
      else expect(espeak, voice.id).not.toMatch(/\+f\d$/);
      // The variants of "en-gb" and "fr-fr" are silently ignored by this eSpeak build.
      expect(espeak, voice.id).not.toMatch(/^(en-gb|fr-fr)\+/);
    }
  });

  it('knows nothing of unknown ids, nor of inherited object keys', () => {
    expect(espeakVoiceFor('Bogus')).toBeUndefined();
    expect(espeakVoiceFor('toString')).toBeUndefined();
    expect(espeakVoiceFor('')).toBeUndefined();
  });
});

describe('eSpeak voice catalogue', () => {
  const catalogue = createEspeakVoiceCatalogue();

  it('lists the mapped Polly voices with the espeak engine', async () => {
    const voices = await catalogue.list();
    expect(voices.length).toBe(POLLY_VOICE_TABLE.length);
    expect(voices.length).toBeGreaterThanOrEqual(100);
    expect(voices.find((v) => v.id === 'Joanna')).toEqual({
      id: 'Joanna',
      name: 'Joanna',
      gender: 'Female',
      language_code: 'en-US',
      language_name: 'US English',
      engines: ['espeak'],
    });
    for (const voice of voices) expect(voice.engines).toEqual(['espeak']);
    expect(new Set(voices.map((v) => v.id)).size).toBe(voices.length);
  });

  it('hands out copies, so a caller cannot change the catalogue', async () => {
    const first = await catalogue.list();
    first[0]?.engines.push('neural');
    first.pop();
    const second = await catalogue.list();
    expect(second.length).toBe(POLLY_VOICE_TABLE.length);
    expect(second[0]?.engines).toEqual(['espeak']);
  });

  it('has no problem with mapped voices and names unknown ones', async () => {
    expect(await catalogue.problemWith('Joanna')).toBeNull();
    expect(await catalogue.problemWith('Hans')).toBeNull();
    expect(await catalogue.problemWith('Bogus')).toBe('voice "Bogus" is not a known voice; GET /api/voices lists the voices');
  });
});

describe('Polly voice table', () => {
  it('holds the Polly voices with their languages and engines', () => {
    expect(POLLY_VOICE_TABLE.length).toBeGreaterThanOrEqual(100);
    const pollyVoice = (id: string) => POLLY_VOICE_TABLE.find((voice) => voice.id === id);
    expect(pollyVoice('Matthew')).toMatchObject({ gender: 'Male', language_code: 'en-US', engines: ['standard', 'neural', 'generative'] });
    expect(pollyVoice('Danielle')?.engines).toEqual(['neural', 'long-form', 'generative']);
    expect(pollyVoice('Nicole')?.engines).toEqual(['standard']);
    expect(pollyVoice('Lea')?.name).toBe('Léa');
    expect(pollyVoice('Hans')?.language_name).toBe('German');
    expect(pollyVoice('joanna')).toBeUndefined();
    for (const voice of POLLY_VOICE_TABLE) expect(voice.engines.length, voice.id).toBeGreaterThan(0);
  });
});
