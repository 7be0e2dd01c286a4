// MP3 helpers: find the audio frames of a file, join the pieces of a long reply into one file, and
// encode PCM.
//
// An MP3 stream is a sequence of self-contained frames, so streams of the same format can be joined
// frame by frame. What must not be copied is per-file metadata: ID3 tags, and the Xing/Info or VBRI
// header frame, which states the frame count of its own file. Players and ffprobe trust that count,
// so a joined file that kept the first piece's header would report the first piece's duration.
import { Mp3Encoder } from '@breezystack/lamejs';

/** One audio frame of an MP3 stream: where it is, and how much sound it holds. */
export interface Frame {
  offset: number;
  length: number;
  samples: number;
  sampleRate: number;
}

// Bitrates in kbps by [MPEG-1 or not][layer 1..3][index]; index 0 is "free format", unsupported here.
const BITRATES: Record<'v1' | 'v2', number[][]> = {
  v1: [
    [0, 32, 64, 96, 128, 160, 192, 224, 256, 288, 320, 352, 384, 416, 448],
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 384],
    [0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320],
  ],
  v2: [
    [0, 32, 48, 56, 64, 80, 96, 112, 128, 144, 160, 176, 192, 224, 256],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
    [0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160],
  ],
};
const SAMPLE_RATES: Record<number, number[]> = {
  3: [44100, 48000, 32000], // MPEG-1
  2: [22050, 24000, 16000], // MPEG-2
  0: [11025, 12000, 8000], // MPEG-2.5
};

/** The frame whose 4-byte header starts at offset, or null if there is none. */
function frameAt(bytes: Uint8Array, offset: number): Frame | null {
  if (offset + 4 > bytes.length) return null;
  const b1 = bytes[offset + 1] ?? 0;
  const b2 = bytes[offset + 2] ?? 0;
  if (bytes[offset] !== 0xff || (b1 & 0xe0) !== 0xe0) return null;
  const version = (b1 >> 3) & 3; // 3 = MPEG-1, 2 = MPEG-2, 0 = MPEG-2.5, 1 reserved
  const layer = 4 - ((b1 >> 1) & 3); // 1..3; 4 means reserved
  const bitrateIndex = b2 >> 4;
  const sampleRate = SAMPLE_RATES[version]?.[(b2 >> 2) & 3];
  if (layer === 4 || bitrateIndex === 0 || bitrateIndex === 15 || sampleRate === undefined) return null;
  const bitrate = (BITRATES[version === 3 ? 'v1' : 'v2'][layer - 1]?.[bitrateIndex] ?? 0) * 1000;
  const padding = (b2 >> 1) & 1;
  let length: number;
  let samples: number;
  if (layer === 1) {
    samples = 384;
    length = (Math.floor((12 * bitrate) / sampleRate) + padding) * 4;
  } else {
    samples = layer === 3 && version !== 3 ? 576 : 1152;
    length = Math.floor(((samples / 8) * bitrate) / sampleRate) + padding;
  }
  return { offset, length, samples, sampleRate };
}

function id3v2Length(bytes: Uint8Array, offset: number): number {
  if (bytes[offset] !== 0x49 || bytes[offset + 1] !== 0x44 || bytes[offset + 2] !== 0x33) return 0; // "ID3"
  if (offset + 10 > bytes.length) return 0;
  const size = bytes.subarray(offset + 6, offset + 10).reduce((n, b) => (n << 7) | (b & 0x7f), 0);
  const hasFooter = ((bytes[offset + 5] ?? 0) & 0x10) !== 0;
  return 10 + size + (hasFooter ? 10 : 0);
}

/**
 * The audio frames of a stream, in order. ID3v2 tags, an ID3v1 trailer and other bytes between
 * frames are skipped. After a gap, a header only counts when the next frame follows it exactly (or
 * the stream ends), so stray 0xFF bytes are not taken for audio.
 */
export function audioFrames(bytes: Uint8Array): Frame[] {
  const frames: Frame[] = [];
  let offset = 0;
  let inSyncAt = -1; // where the next frame starts if the stream carries on without a gap
  while (offset + 4 <= bytes.length) {
    const tag = id3v2Length(bytes, offset);
    if (tag > 0) {
      offset += tag;
      continue;
    }
    const frame = frameAt(bytes, offset);
    const end = frame ? offset + frame.length : 0;
    const inSync = offset === inSyncAt;
    if (frame && end <= bytes.length && (inSync || end === bytes.length || frameAt(bytes, end) || isTrailer(bytes, end))) {
      frames.push(frame);
      offset = end;
      inSyncAt = end;
    } else {
      offset += 1;
    }
  }
  if (frames[0] && isInfoFrame(bytes, frames[0])) frames.shift();
  return frames;
}

function isTrailer(bytes: Uint8Array, offset: number): boolean {
  return id3v2Length(bytes, offset) > 0 || ascii(bytes, offset, 3) === 'TAG' || ascii(bytes, offset, 8) === 'APETAGEX';
}

function ascii(bytes: Uint8Array, offset: number, length: number): string {
  return String.fromCharCode(...bytes.subarray(offset, offset + length));
}

/** A Xing/Info (LAME, most encoders) or VBRI (Fraunhofer) header frame rather than audio. */
function isInfoFrame(bytes: Uint8Array, frame: Frame): boolean {
  // The Xing tag sits after the side information, whose size depends on version and channels;
  // looking through the first bytes of the frame covers every case (and a CRC word).
  const head = ascii(bytes, frame.offset + 4, Math.min(40, frame.length - 4));
  return /Xing|Info/.test(head) || ascii(bytes, frame.offset + 36, 4) === 'VBRI';
}

/** One MP3 stream with the audio frames of every piece, in order, and no per-file metadata. */
export function joinMp3(pieces: Uint8Array[]): Uint8Array {
  return concat(pieces.flatMap((piece) => audioFrames(piece).map((f) => piece.subarray(f.offset, f.offset + f.length))));
}

/** MPEG-2/2.5 Layer III needs 576 samples per frame; 1152 keeps every rate happy. */
const BLOCK = 1152;

/** A mono CBR MP3 of 16-bit PCM samples. */
export function encodeMp3(pcm: Int16Array, sampleRate: number, kbps = 48): Uint8Array {
  const encoder = new Mp3Encoder(1, sampleRate, kbps);
  const chunks: Uint8Array[] = [];
  // lamejs returns Int8Array whatever its types say; view the same bytes as unsigned.
  const keep = (b: Uint8Array | Int8Array): void => {
    if (b.length > 0) chunks.push(new Uint8Array(b.buffer, b.byteOffset, b.length).slice());
  };
  for (let i = 0; i < pcm.length; i += BLOCK) keep(encoder.encodeBuffer(pcm.subarray(i, i + BLOCK)));
  keep(encoder.flush());
  return concat(chunks);
}

/** Buffer.concat, seen as a plain Uint8Array (a view, not a copy). */
function concat(chunks: Uint8Array[]): Uint8Array {
  const joined = Buffer.concat(chunks);
  return new Uint8Array(joined.buffer, joined.byteOffset, joined.length);
}
