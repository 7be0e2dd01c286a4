// The Polly voice catalogue through the real SDK against the loopback Polly server.
import type { PollyClient } from '@aws-sdk/client-polly';
import { beforeAll, describe, expect, it } from 'vitest';
import { createPollyVoiceCatalogue } from '../../src/speech/engines/polly/polly-voice-catalogue.ts';
import { SpeechError } from '../../src/errors.ts';
import { usePollyServer } from '../support/polly-fixture.ts';
import { DESCRIBED_VOICES, type PollyServer } from '../support/polly-server.ts';

const polly = usePollyServer({ pageSize: 5 });
// Plain names for the fixture's server and client, bound once it has started.
let server: PollyServer;
let client: PollyClient;
beforeAll(() => {
  ({ server, client } = polly);
});

const pages = Math.ceil(DESCRIBED_VOICES.length / 5);

describe('createPollyVoiceCatalogue', () => {
  it('lists the voices of the configured engine, from every page of DescribeVoices', async () => {
    const catalogue = createPollyVoiceCatalogue({ client, engine: 'neural' });

    const voices = await catalogue.list();

    expect(pages).toBeGreaterThan(2);
    expect(server.describeCount).toBe(pages);
    const expected = DESCRIBED_VOICES.filter((v) => v.SupportedEngines.includes('neural')).map((v) => v.Id);
    expect(voices.map((v) => v.id).sort()).toEqual(expected.sort());
    expect(voices.map((v) => v.id)).not.toContain('Hans');
    expect(voices.find((v) => v.id === 'Lea')).toEqual({
      id: 'Lea',
      name: 'Léa',
      gender: 'Female',
      language_code: 'fr-FR',
      language_name: 'French',
      engines: ['neural', 'standard'],
    });
  });

  it('groups the list by language, then name', async () => {
    const voices = await createPollyVoiceCatalogue({ client, engine: 'standard' }).list();

    const keys = voices.map((v) => `${v.language_name}/${v.name}`);
    expect(keys).toEqual([...keys].sort((a, b) => a.localeCompare(b)));
    expect(voices.map((v) => v.id)).toContain('Hans');
    expect(voices.map((v) => v.id)).not.toContain('Arthur');
  });

  it('asks Polly once: later calls, and concurrent first calls, share the result', async () => {
    const catalogue = createPollyVoiceCatalogue({ client, engine: 'neural' });

    const [a, b, problem] = await Promise.all([catalogue.list(), catalogue.list(), catalogue.problemWith('Joanna')]);
    expect(server.describeCount).toBe(pages);
    expect(b).toEqual(a);
    expect(problem).toBeNull();

    await catalogue.list();
    await catalogue.problemWith('Nobody');
    expect(server.describeCount).toBe(pages);
  });

  it('says why a voice cannot be used', async () => {
    const neural = createPollyVoiceCatalogue({ client, engine: 'neural' });
    const standard = createPollyVoiceCatalogue({ client, engine: 'standard' });

    expect(await neural.problemWith('Matthew')).toBeNull();
    expect(await neural.problemWith('Nobody')).toBe('voice "Nobody" is not a known Amazon Polly voice');
    expect(await neural.problemWith('Hans')).toBe(
      'voice "Hans" is not available on the Polly engine "neural" (it supports: standard)',
    );
    expect(await standard.problemWith('Arthur')).toBe(
      'voice "Arthur" is not available on the Polly engine "standard" (it supports: neural)',
    );
    expect(await neural.problemWith('joanna')).toBe(
      'voice "joanna" is not a known Amazon Polly voice (voice ids are case-sensitive: did you mean "Joanna"?)',
    );
  });

  it('throws a SpeechError when Polly cannot be reached, and tries again next time', async () => {
    const catalogue = createPollyVoiceCatalogue({ client, engine: 'neural' });
    server.setOutage(true);

    const error = await catalogue.list().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SpeechError);
    expect((error as Error).message).toBe(
      'could not list Amazon Polly voices: ServiceUnavailableException: Service Unavailable',
    );
    await expect(catalogue.problemWith('Joanna')).rejects.toBeInstanceOf(SpeechError);

    server.setOutage(false);
    expect(await catalogue.problemWith('Joanna')).toBeNull();
  });
});
