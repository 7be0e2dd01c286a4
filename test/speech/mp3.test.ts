import { describe, expect, it } from 'vitest';
import { probeMp3 } from '../support/ffprobe.ts';
import { encodeMp3, joinMp3 } from '../../src/speech/mp3.ts';
import { mp3DurationSeconds } from '../support/mp3-duration.ts';

const RATE = 22050;

function tone(seconds: number, hz: number): Int16Array {
  const pcm = new Int16Array(Math.round(seconds * RATE));
  for (let i = 0; i < pcm.length; i++) pcm[i] = Math.round(8000 * Math.sin((2 * Math.PI * hz * i) / RATE));
  return pcm;
}

function concat(...parts: Uint8Array[]): Uint8Array {
  const joined = Buffer.concat(parts);
  return new Uint8Array(joined.buffer, joined.byteOffset, joined.length);
}

const ascii = (s: string): number[] => Array.from(s, (c) => c.charCodeAt(0));

/** An ID3v2.3 tag with one TIT2 frame whose text holds bytes that look like a frame sync. */
function id3v2Tag(): Uint8Array {
  const text = [0x00, ...ascii('Title'), 0xff, 0xfb, 0x90, 0x00];
  const frame = [...ascii('TIT2'), 0, 0, 0, text.length, 0, 0, ...text];
  const size = frame.length;
  return new Uint8Array([...ascii('ID3'), 3, 0, 0, 0, 0, (size >> 7) & 0x7f, size & 0x7f, ...frame]);
}

function id3v1Trailer(): Uint8Array {
  const tag = new Uint8Array(128);
  tag.set(ascii('TAGSome title'));
  return tag;
}

/**
 * A header frame like LAME's, copied from the piece's first audio frame: same header, zeroed side
 * information, then the tag. It claims the stream has `frames` frames.
 */
function headerFrame(piece: Uint8Array, kind: 'Xing' | 'Info' | 'VBRI', frames: number): Uint8Array {
  const frameLength = 156; // 72 * 48 kbps / 22.05 kHz, without padding
  const frame = new Uint8Array(frameLength);
  frame.set(piece.subarray(0, 4));
  frame[2] = (frame[2] ?? 0) & ~0x02; // no padding bit, so the length above holds
  const view = new DataView(frame.buffer);
  if (kind === 'VBRI') {
    frame.set(ascii('VBRI'), 36);
    view.setUint32(36 + 14, frames);
  } else {
    const at = 4 + 9; // MPEG-2 mono side information is 9 bytes
    frame.set(ascii(kind), at);
    view.setUint32(at + 4, 0x1); // flags: frame count present
    view.setUint32(at + 8, frames);
  }
  return frame;
}

describe('encodeMp3', () => {
  it('encodes mono PCM to MP3 that ffprobe decodes at the right length', async () => {
    const mp3 = encodeMp3(tone(1, 440), RATE);
    const probed = await probeMp3(mp3);
    expect(probed.codec).toBe('mp3');
    expect(probed.sampleRate).toBe(RATE);
    expect(probed.durationSeconds).toBeGreaterThan(0.95);
    expect(probed.durationSeconds).toBeLessThan(1.15);
    expect(mp3DurationSeconds(mp3)).toBeCloseTo(probed.durationSeconds, 1);
  });

  it('encodes an empty buffer to (almost) nothing', () => {
    expect(mp3DurationSeconds(encodeMp3(new Int16Array(0), RATE))).toBeLessThan(0.1);
  });
});

describe('joinMp3', () => {
  it('joins two pieces into one stream of their total length', async () => {
    const one = encodeMp3(tone(1, 440), RATE);
    const two = encodeMp3(tone(2, 660), RATE);
    const joined = joinMp3([one, two]);
    expect(joined.length).toBe(one.length + two.length);
    const probed = await probeMp3(joined);
    expect(probed.codec).toBe('mp3');
    expect(probed.durationSeconds).toBeGreaterThan(2.9);
    expect(probed.durationSeconds).toBeLessThan(3.2);
    expect(mp3DurationSeconds(joined)).toBeCloseTo(mp3DurationSeconds(one) + mp3DurationSeconds(two), 6);
  });

  it('strips ID3 tags and Xing/Info/VBRI frames so that ffprobe reports the full length', async () => {
    const one = encodeMp3(tone(1, 440), RATE);
    const two = encodeMp3(tone(2, 660), RATE);
    const tagged = (piece: Uint8Array, kind: 'Xing' | 'Info' | 'VBRI'): Uint8Array =>
      concat(id3v2Tag(), headerFrame(piece, kind, 1), piece, id3v1Trailer());

    // A tagged piece alone: ffprobe believes its one-frame header, which is why it must go.
    const lying = tagged(one, 'Xing');
    expect((await probeMp3(lying)).durationSeconds).toBeLessThan(0.1);
    expect(mp3DurationSeconds(lying)).toBeCloseTo(mp3DurationSeconds(one), 6);

    for (const kind of ['Xing', 'Info', 'VBRI'] as const) {
      const joined = joinMp3([tagged(one, kind), tagged(two, kind)]);
      expect(joined).toEqual(concat(one, two));
      const probed = await probeMp3(joined);
      expect(probed.durationSeconds).toBeGreaterThan(2.9);
      expect(probed.durationSeconds).toBeLessThan(3.2);
    }
  });

  it('skips bytes between frames that are not audio', () => {
    const one = encodeMp3(tone(0.5, 440), RATE);
    const junk = new Uint8Array([0x00, 0xff, 0xfb, 0x12, 0x34, 0xff]);
    expect(joinMp3([concat(junk, one, junk)])).toEqual(one);
  });

  it('returns an empty stream for no pieces', () => {
    expect(joinMp3([])).toEqual(new Uint8Array(0));
    expect(mp3DurationSeconds(new Uint8Array(0))).toBe(0);
  });
});
