// The Amazon Polly voices, as the AWS "Available voices" page lists them, with the voice ids of
// @aws-sdk/client-polly's VoiceId enum (106 ids). Language names follow DescribeVoices' LanguageName.
//
// This is what the offline engine lists and maps to eSpeak, so that personas configured for Polly
// keep working offline. With Polly itself, DescribeVoices is the source of truth: AWS adds voices
// and engines over time, and a region may not offer every voice.
import type { PollyEngine } from '../config/env.ts';
import type { Voice } from './synthesizer.ts';

export interface PollyVoiceInfo extends Voice {
  gender: 'Female' | 'Male';
  engines: PollyEngine[];
}

const S = 'standard';
const N = 'neural';
const L = 'long-form';
const G = 'generative';

type Row = [id: string, gender: 'F' | 'M', engines: PollyEngine[], name?: string];

// language code, language name, voices
const LANGUAGES: [string, string, Row[]][] = [
  ['arb', 'Arabic', [['Zeina', 'F', [S]]]],
  ['ar-AE', 'Gulf Arabic', [['Hala', 'F', [N]], ['Zayd', 'M', [N]]]],
  ['ca-ES', 'Catalan', [['Arlet', 'F', [N]]]],
  ['cmn-CN', 'Chinese Mandarin', [['Zhiyu', 'F', [N, S]]]],
  ['yue-CN', 'Chinese Cantonese', [['Hiujin', 'F', [N]]]],
  ['cs-CZ', 'Czech', [['Jitka', 'F', [N]]]],
  ['cy-GB', 'Welsh', [['Gwyneth', 'F', [S]]]],
  ['da-DK', 'Danish', [['Naja', 'F', [S]], ['Mads', 'M', [S]], ['Sofie', 'F', [N]]]],
  ['nl-NL', 'Dutch', [['Laura', 'F', [G, N]], ['Lotte', 'F', [S]], ['Ruben', 'M', [S]]]],
  ['nl-BE', 'Belgian Dutch', [['Lisa', 'F', [G, N]]]],
  ['en-AU', 'Australian English', [['Nicole', 'F', [S]], ['Olivia', 'F', [G, N]], ['Russell', 'M', [S]]]],
  [
    'en-GB',
    'British English',
    [['Amy', 'F', [G, N, S]], ['Emma', 'F', [N, S]], ['Brian', 'M', [G, N, S]], ['Arthur', 'M', [N]]],
  ],
  ['en-IN', 'Indian English', [['Aditi', 'F', [S]], ['Raveena', 'F', [S]], ['Kajal', 'F', [G, N]]]],
  ['en-IE', 'Irish English', [['Niamh', 'F', [G, N]]]],
  ['en-NZ', 'New Zealand English', [['Aria', 'F', [G, N]]]],
  ['en-SG', 'Singaporean English', [['Jasmine', 'F', [G, N]]]],
  ['en-ZA', 'South African English', [['Ayanda', 'F', [G, N]]]],
  [
    'en-US',
    'US English',
    [
      ['Danielle', 'F', [G, L, N]],
      ['Gregory', 'M', [L, N]],
      ['Ivy', 'F', [N, S]],
      ['Joanna', 'F', [G, N, S]],
      ['Kendra', 'F', [N, S]],
      ['Kimberly', 'F', [N, S]],
      ['Salli', 'F', [G, N, S]],
      ['Joey', 'M', [N, S]],
      ['Justin', 'M', [N, S]],
      ['Kevin', 'M', [N]],
      ['Matthew', 'M', [G, N, S]],
      ['Ruth', 'F', [G, L, N]],
      ['Stephen', 'M', [G, N]],
      ['Tiffany', 'F', [G]],
    ],
  ],
  ['en-GB-WLS', 'Welsh English', [['Geraint', 'M', [S]]]],
  ['fi-FI', 'Finnish', [['Suvi', 'F', [N]]]],
  [
    'fr-FR',
    'French',
    [
      ['Celine', 'F', [S], 'Céline'],
      ['Lea', 'F', [G, N, S], 'Léa'],
      ['Mathieu', 'M', [S]],
      ['Remi', 'M', [G, N], 'Rémi'],
      ['Ambre', 'F', [G]],
      ['Florian', 'M', [G]],
    ],
  ],
  ['fr-BE', 'Belgian French', [['Isabelle', 'F', [N]]]],
  ['fr-CA', 'Canadian French', [['Chantal', 'F', [S]], ['Gabrielle', 'F', [G, N]], ['Liam', 'M', [N]]]],
  [
    'de-DE',
    'German',
    [['Marlene', 'F', [S]], ['Vicki', 'F', [G, N, S]], ['Hans', 'M', [S]], ['Daniel', 'M', [G, N]], ['Lennart', 'M', [G]]],
  ],
  ['de-AT', 'Austrian German', [['Hannah', 'F', [N]]]],
  ['de-CH', 'Swiss Standard German', [['Sabrina', 'F', [G, N]]]],
  ['is-IS', 'Icelandic', [['Dora', 'F', [S], 'Dóra'], ['Karl', 'M', [S]]]],
  [
    'it-IT',
    'Italian',
    [
      ['Carla', 'F', [S]],
      ['Bianca', 'F', [G, N, S]],
      ['Giorgio', 'M', [S]],
      ['Adriano', 'M', [N]],
      ['Beatrice', 'F', [G]],
      ['Lorenzo', 'M', [G]],
    ],
  ],
  ['ja-JP', 'Japanese', [['Mizuki', 'F', [S]], ['Takumi', 'M', [N, S]], ['Kazuha', 'F', [N]], ['Tomoko', 'F', [N]]]],
  ['ko-KR', 'Korean', [['Seoyeon', 'F', [N, S]], ['Jihye', 'F', [N]]]],
  ['nb-NO', 'Norwegian', [['Liv', 'F', [S]], ['Ida', 'F', [N]]]],
  ['pl-PL', 'Polish', [['Ewa', 'F', [S]], ['Maja', 'F', [S]], ['Jacek', 'M', [S]], ['Jan', 'M', [S]], ['Ola', 'F', [N]]]],
  [
    'pt-BR',
    'Brazilian Portuguese',
    [['Camila', 'F', [N, S]], ['Vitoria', 'F', [N, S], 'Vitória'], ['Ricardo', 'M', [S]], ['Thiago', 'M', [N]]],
  ],
  ['pt-PT', 'Portuguese', [['Ines', 'F', [N, S], 'Inês'], ['Cristiano', 'M', [S]]]],
  ['ro-RO', 'Romanian', [['Carmen', 'F', [S]]]],
  ['ru-RU', 'Russian', [['Tatyana', 'F', [S]], ['Maxim', 'M', [S]]]],
  [
    'es-ES',
    'Castilian Spanish',
    [['Conchita', 'F', [S]], ['Lucia', 'F', [G, N, S]], ['Enrique', 'M', [S]], ['Sergio', 'M', [G, N]]],
  ],
  ['es-MX', 'Mexican Spanish', [['Mia', 'F', [G, N, S]], ['Andres', 'M', [G, N], 'Andrés']]],
  [
    'es-US',
    'US Spanish',
    [['Lupe', 'F', [G, N, S]], ['Penelope', 'F', [S], 'Penélope'], ['Miguel', 'M', [S]], ['Pedro', 'M', [G, N]]],
  ],
  ['sv-SE', 'Swedish', [['Astrid', 'F', [S]], ['Elin', 'F', [N]]]],
  ['tr-TR', 'Turkish', [['Filiz', 'F', [S]], ['Burcu', 'F', [N]]]],
];

const ENGINE_ORDER: PollyEngine[] = [S, N, L, G];

/** Every Polly voice, sorted by id. */
export const POLLY_VOICE_TABLE: readonly PollyVoiceInfo[] = LANGUAGES.flatMap(([languageCode, languageName, rows]) =>
  rows.map(([id, gender, engines, name]) => ({
    id,
    name: name ?? id,
    gender: gender === 'F' ? ('Female' as const) : ('Male' as const),
    language_code: languageCode,
    language_name: languageName,
    engines: ENGINE_ORDER.filter((engine) => engines.includes(engine)),
  })),
).sort((a, b) => a.id.localeCompare(b.id));
