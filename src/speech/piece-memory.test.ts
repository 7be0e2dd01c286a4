import { describe, expect, it } from 'vitest';
import { createPieceMemory, pieceKey } from './piece-memory.ts';

const bytes = (n: number) => new Uint8Array(n);

describe('createPieceMemory', () => {
  it('keeps pieces up to its size, dropping the least recently used first', () => {
    const memory = createPieceMemory(100);
    memory.set('a', bytes(40));
    memory.set('b', bytes(40));
    expect(memory.get('a')?.length).toBe(40); // a is now the most recently used
    memory.set('c', bytes(40));
    expect(memory.get('b')).toBeUndefined();
    expect(memory.get('a')).toBeDefined();
    expect(memory.get('c')).toBeDefined();
    expect(memory.bytes).toBe(80);
  });

  it('does not keep a piece bigger than itself, and counts a replaced or deleted piece once', () => {
    const memory = createPieceMemory(100);
    memory.set('big', bytes(101));
    expect(memory.get('big')).toBeUndefined();
    memory.set('a', bytes(30));
    memory.set('a', bytes(50));
    expect(memory.bytes).toBe(50);
    memory.delete('a');
    memory.delete('a');
    expect(memory.bytes).toBe(0);
  });
});

describe('pieceKey', () => {
  it('differs by engine, voice and text, and cannot be confused by where the parts split', () => {
    const key = pieceKey('polly-neural-mp3', 'Joanna', 'Hello.');
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(pieceKey('espeak-v1-mp3', 'Joanna', 'Hello.')).not.toBe(key);
    expect(pieceKey('polly-neural-mp3', 'Matthew', 'Hello.')).not.toBe(key);
    expect(pieceKey('polly-neural-mp3', 'Joanna', 'Hello!')).not.toBe(key);
    expect(pieceKey('a', 'bc', 'd')).not.toBe(pieceKey('ab', 'c', 'd'));
  });
});
