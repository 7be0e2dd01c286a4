// The cache-key rule from DESIGN.md: filename = sha256(reply_text + voice_id).hex + ".mp3",
// over the raw stored reply text, and key = prefix + filename.
import { createHash } from 'node:crypto';

export function audioFilename(replyText: string, voiceId: string): string {
  return createHash('sha256').update(replyText + voiceId, 'utf8').digest('hex') + '.mp3';
}

export function audioKey(prefix: string, replyText: string, voiceId: string): string {
  return prefix + audioFilename(replyText, voiceId);
}

/**
 * The default AUDIO_KEY_PREFIX: one folder per engine and format ("polly-neural-mp3/"), so that
 * switching POLLY_ENGINE, or moving between Polly and eSpeak, never serves the other engine's audio.
 * The bucket holds audio only, so the folder needs no "audio/" above it.
 */
export function defaultAudioKeyPrefix(synthesizerId: string): string {
  return `${synthesizerId}/`;
}

/** Folder names of letters, digits, '-' and '_', then a 64-hex-digit filename. */
export const AUDIO_KEY_PATTERN = /^(?:[A-Za-z0-9_-]+\/)*[0-9a-f]{64}\.mp3$/;

export function isAudioKey(key: string): boolean {
  return AUDIO_KEY_PATTERN.test(key);
}
