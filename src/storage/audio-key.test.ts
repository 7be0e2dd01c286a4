import { describe, expect, it } from 'vitest';
import { audioFilename, audioKey, defaultAudioKeyPrefix, isAudioKey } from './audio-key.ts';

// Vectors computed outside Node: printf '%s%s' "$text" "$voice" | sha256sum
describe('the cache-key rule: sha256(reply_text + voice_id).hex + ".mp3"', () => {
  it.each([
    ['Hello there!', 'Joanna', 'b5b96a43b5d5649af069b4d7da8b9a77eb3e97b99151e7ae26a0e2a43dbdc7df'],
    ['Hello there!', 'Matthew', '17c2585dea534655b51afe02e25e4fd934484e8888c899f949afcc76d3cd9e3a'],
    ['', '', 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855'],
    ['Café ☕ — **bold**\nline two', 'Amy', '197487fc6f2d2bc9635bf4409128970f79f302fcd031f40cb8bea48b1dde9f67'],
  ])('%j in %s', (text, voice, hex) => {
    expect(audioFilename(text, voice)).toBe(`${hex}.mp3`);
  });

  it('hashes the raw text, markdown included, as UTF-8', () => {
    expect(audioFilename('**Hi**', 'Joanna')).not.toBe(audioFilename('Hi', 'Joanna'));
  });

  it('puts the prefix in front of the filename', () => {
    expect(audioKey('polly-neural-mp3/', 'Hello there!', 'Joanna')).toBe(
      'polly-neural-mp3/b5b96a43b5d5649af069b4d7da8b9a77eb3e97b99151e7ae26a0e2a43dbdc7df.mp3',
    );
    expect(audioKey('', 'Hello there!', 'Joanna')).toBe('b5b96a43b5d5649af069b4d7da8b9a77eb3e97b99151e7ae26a0e2a43dbdc7df.mp3');
  });

  it('keeps engines apart by default', () => {
    expect(defaultAudioKeyPrefix('polly-neural-mp3')).toBe('polly-neural-mp3/');
    expect(defaultAudioKeyPrefix('polly-generative-mp3')).not.toBe(defaultAudioKeyPrefix('polly-neural-mp3'));
  });

  it('accepts only folder names and a lowercase hex filename as keys', () => {
    const hex = 'a'.repeat(64);
    expect(isAudioKey(`${hex}.mp3`)).toBe(true);
    expect(isAudioKey(`espeak-v1-mp3/${hex}.mp3`)).toBe(true);
    for (const bad of [`../${hex}.mp3`, `a/../${hex}.mp3`, `/${hex}.mp3`, `${hex.toUpperCase()}.mp3`, `${hex}.wav`, `x.mp3`, `a b/${hex}.mp3`]) {
      expect(isAudioKey(bad)).toBe(false);
    }
  });
});
