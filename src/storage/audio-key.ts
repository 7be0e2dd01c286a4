// The cache-key rule: filename = sha256(reply_text + voice_id).hex + ".mp3", over the raw stored
// reply text, and key = prefix + filename. It lives with storage because the store is what the key
// names: the stores accept nothing but keys of this shape, so no key can name a path outside them.
import { hash } from 'node:crypto';

export function audioFilename(replyText: string, voiceId: string): string {
  // crypto.hash (Node 20.12+) is the one-shot form: about half the cost of createHash().update()
  // .digest(), which matters because the read path hashes every model message of a history.
  return hash('sha256', replyText + voiceId, 'hex') + '.mp3';
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
