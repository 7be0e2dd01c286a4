// Which eSpeak voice speaks for each Polly voice id, so that personas configured for Polly still
// speak offline, in a voice of the same language and gender.

// Polly voice id -> eSpeak voice ("language+variant"). Each one was checked to produce audio that
// differs from its base voice: with this build, variants on "en-gb" and "fr-fr" are silently
// ignored, which is why British English uses "en-gb-x-rp", other English variants "en" and French
// "fr". Voices of one language and gender share the few eSpeak variants (f1-f5, m1-m7), so some
// Polly voices sound alike offline. eSpeak has no Australian, Indian, Irish or Canadian French
// accents; those use the nearest voice. Polly's child voices (Ivy, Justin, Kevin) sound adult.
export const ESPEAK_VOICES: Readonly<Record<string, string>> = {
  // arb
  Zeina: 'ar+f3',
  // ar-AE
  Hala: 'ar+f3', Zayd: 'ar',
  // ca-ES
  Arlet: 'ca+f3',
  // cmn-CN
  Zhiyu: 'cmn+f3',
  // yue-CN
  Hiujin: 'yue+f3',
  // cs-CZ
  Jitka: 'cs+f3',
  // cy-GB
  Gwyneth: 'cy+f3',
  // da-DK
  Mads: 'da', Naja: 'da+f3', Sofie: 'da+f2',
  // nl-NL
  Laura: 'nl+f3', Lotte: 'nl+f2', Ruben: 'nl',
  // nl-BE
  Lisa: 'nl+f3',
  // en-AU
  Nicole: 'en+f3', Olivia: 'en+f2', Russell: 'en',
  // en-NZ
  Aria: 'en+f3',
  // en-ZA
  Ayanda: 'en+f3',
  // en-SG
  Jasmine: 'en+f3',
  // en-IN
  Aditi: 'en+f3', Kajal: 'en+f2', Raveena: 'en+f4',
  // en-IE
  Niamh: 'en+f3',
  // en-GB-WLS
  Geraint: 'en',
  // en-GB
  Amy: 'en-gb-x-rp+f3', Arthur: 'en-gb-x-rp+m3', Brian: 'en-gb-x-rp', Emma: 'en-gb-x-rp+f2',
  // en-US
  Danielle: 'en-us+f2', Gregory: 'en-us+m3', Ivy: 'en-us+f4', Joanna: 'en-us+f3', Joey: 'en-us+m2', Justin: 'en-us+m4', Kendra: 'en-us+f5', Kevin: 'en-us+m5', Kimberly: 'en-us+f1', Matthew: 'en-us', Ruth: 'en-us+f3', Salli: 'en-us+f2', Stephen: 'en-us+m6', Tiffany: 'en-us+f4',
  // fi-FI
  Suvi: 'fi+f3',
  // fr-FR
  Ambre: 'fr+f4', Celine: 'fr+f2', Florian: 'fr+m3', Lea: 'fr+f3', Mathieu: 'fr', Remi: 'fr+m2',
  // fr-CA
  Chantal: 'fr+f3', Gabrielle: 'fr+f2', Liam: 'fr',
  // fr-BE
  Isabelle: 'fr-be+f3',
  // de-DE
  Daniel: 'de+m3', Hans: 'de', Lennart: 'de+m2', Marlene: 'de+f2', Vicki: 'de+f3',
  // de-AT
  Hannah: 'de+f3',
  // de-CH
  Sabrina: 'de+f3',
  // is-IS
  Dora: 'is+f3', Karl: 'is',
  // it-IT
  Adriano: 'it', Beatrice: 'it+f3', Bianca: 'it+f2', Carla: 'it+f4', Giorgio: 'it+m3', Lorenzo: 'it+m2',
  // ja-JP
  Kazuha: 'ja+f3', Mizuki: 'ja+f2', Takumi: 'ja', Tomoko: 'ja+f4',
  // ko-KR
  Jihye: 'ko+f3', Seoyeon: 'ko+f2',
  // nb-NO
  Ida: 'nb+f3', Liv: 'nb+f2',
  // pl-PL
  Ewa: 'pl+f3', Jacek: 'pl', Jan: 'pl+m3', Maja: 'pl+f2', Ola: 'pl+f4',
  // pt-BR
  Camila: 'pt-br+f3', Ricardo: 'pt-br', Thiago: 'pt-br+m3', Vitoria: 'pt-br+f2',
  // pt-PT
  Cristiano: 'pt', Ines: 'pt+f3',
  // ro-RO
  Carmen: 'ro+f3',
  // ru-RU
  Maxim: 'ru', Tatyana: 'ru+f3',
  // es-ES
  Conchita: 'es+f3', Enrique: 'es', Lucia: 'es+f2', Sergio: 'es+m3',
  // es-MX
  Andres: 'es-419', Mia: 'es-419+f3',
  // es-US
  Lupe: 'es-419+f3', Miguel: 'es-419', Pedro: 'es-419+m3', Penelope: 'es-419+f2',
  // sv-SE
  Astrid: 'sv+f3', Elin: 'sv+f2',
  // tr-TR
  Burcu: 'tr+f3', Filiz: 'tr+f2',
};

/** The eSpeak voice that speaks for a Polly voice id, if there is one. */
export function espeakVoiceFor(pollyVoiceId: string): string | undefined {
  return Object.hasOwn(ESPEAK_VOICES, pollyVoiceId) ? ESPEAK_VOICES[pollyVoiceId] : undefined;
}
