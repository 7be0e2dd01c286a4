// A voice preview: an MP3 in which a voice says a short sample sentence in its own language, so that
// a client can let someone hear a voice before choosing it. The preview is stored like a reply's
// audio, under prefix + sha256(sentence + voice_id) + ".mp3", through the same write-through speech
// cache: each voice is synthesized once, ever, and concurrent first requests share that one call.
import { NotFoundError, SpeechError } from '../errors.ts';
import type { SpeechCache } from '../speech/speech-cache.ts';
import type { VoiceCatalogue } from '../speech/synthesizer.ts';

/** The sample sentence of the voices whose language has none of its own. */
export const ENGLISH_SAMPLE = 'Hello, this is how I sound when I read your replies aloud.';

/**
 * One sample sentence per language, keyed by the language part of a voice's language_code (en-GB is
 * en). Each is a single sentence of at most 100 characters, so that the speech cache's segmenter
 * keeps it whole: one engine call per preview. Changing a sentence changes the key of every preview
 * in its language, which are then made again, once each.
 */
export const SAMPLE_SENTENCES: Readonly<Record<string, string>> = {
  en: ENGLISH_SAMPLE,
  ar: 'مرحبًا، هكذا يبدو صوتي عندما أقرأ لك الردود بصوت عالٍ.',
  ca: 'Hola, així sono quan et llegeixo les respostes en veu alta.',
  cs: 'Ahoj, takhle zním, když ti čtu odpovědi nahlas.',
  cy: "Helo, dyma sut rydw i'n swnio wrth ddarllen yr atebion yn uchel.",
  da: 'Hej, sådan lyder jeg, når jeg læser svarene højt for dig.',
  de: 'Hallo, so klinge ich, wenn ich dir die Antworten vorlese.',
  es: 'Hola, así sueno cuando te leo las respuestas en voz alta.',
  fi: 'Hei, tältä kuulostan, kun luen vastaukset sinulle ääneen.',
  fr: 'Bonjour, voici ma voix quand je vous lis les réponses à haute voix.',
  hi: 'नमस्ते, जवाब पढ़कर सुनाते समय मेरी आवाज़ ऐसी होती है।',
  is: 'Halló, svona hljóma ég þegar ég les svörin upphátt fyrir þig.',
  it: 'Ciao, questa è la mia voce quando ti leggo le risposte ad alta voce.',
  ja: 'こんにちは、これが返信を読み上げるときの私の声です。',
  ko: '안녕하세요, 제가 답변을 소리 내어 읽어 드릴 때 이런 목소리예요.',
  nb: 'Hei, slik høres jeg ut når jeg leser svarene høyt for deg.',
  nl: 'Hallo, zo klink ik wanneer ik je de antwoorden voorlees.',
  pl: 'Cześć, tak brzmię, gdy czytam ci odpowiedzi na głos.',
  pt: 'Olá, esta é a minha voz quando leio as respostas em voz alta.',
  ro: 'Bună, așa sun când îți citesc răspunsurile cu voce tare.',
  ru: 'Привет, вот так звучит мой голос, когда я читаю ответы вслух.',
  sv: 'Hej, så här låter jag när jag läser upp svaren för dig.',
  tr: 'Merhaba, yanıtları sesli okurken sesim böyle çıkıyor.',
  yue: '你好，呢個就係我幫你讀出回覆嘅聲音。',
  zh: '你好，这就是我为你朗读回复时的声音。',
};

/** Language parts that Polly writes otherwise: Arabic as arb, Mandarin as cmn, Norwegian as no. */
const LANGUAGE_ALIASES: Readonly<Record<string, string>> = { arb: 'ar', cmn: 'zh', no: 'nb', nn: 'nb' };

/** The sample sentence for a language code such as "de-DE", "cmn-CN" or "en-GB-WLS"; English when there is none. */
export function sampleSentenceFor(languageCode: string): string {
  const language = languageCode.split('-')[0]!.toLowerCase();
  const key = LANGUAGE_ALIASES[language] ?? language;
  return Object.hasOwn(SAMPLE_SENTENCES, key) ? SAMPLE_SENTENCES[key]! : ENGLISH_SAMPLE;
}

export interface VoicePreviewDeps {
  voices: VoiceCatalogue;
  speech: Pick<SpeechCache, 'ensure'>;
  /** SPEECH_TIMEOUT_MS: how long a request waits for a preview that is being made. */
  timeoutMs: number;
}

export interface VoicePreview {
  /**
   * The URL of the voice's preview MP3, made now when the store has none. Throws NotFoundError when
   * the engine cannot speak the voice, and SpeechError when the engine failed or the preview was not
   * ready within timeoutMs (it is still made then, and stored for the next request).
   */
  preview(voiceId: string): Promise<string>;
}

export function createVoicePreview({ voices, speech, timeoutMs }: VoicePreviewDeps): VoicePreview {
  return {
    async preview(voiceId) {
      const problem = await voices.problemWith(voiceId);
      if (problem) throw new NotFoundError(problem);
      const voice = (await voices.list()).find((v) => v.id === voiceId);
      const text = sampleSentenceFor(voice?.language_code ?? 'en');
      const late = new SpeechError(
        `the preview of voice "${voiceId}" was not ready within ${timeoutMs} ms (SPEECH_TIMEOUT_MS); ` +
          'it is still being made: retry in a moment',
      );
      try {
        return (await within(speech.ensure(text, voiceId), timeoutMs, late)).url;
      } catch (error) {
        if (error === late) throw error;
        // The engine's own SpeechError says what failed; the voice it failed for is said here.
        if (error instanceof SpeechError) {
          throw new SpeechError(`speech failed for the preview of voice "${voiceId}": ${error.message}`, {
            cause: error,
            permanent: error.permanent,
          });
        }
        // Anything else came from the audio store (S3 or the disk) while it saved the preview: an
        // outage of the preview's making all the same, answered 503 with what failed, not a 500.
        throw new SpeechError(`the audio store failed to save the preview of voice "${voiceId}"`, { cause: error });
      }
    },
  };
}

/**
 * The work's result, or `late` thrown once timeoutMs have passed. The work goes on regardless (a
 * synthesis cannot be taken back), and its later failure is nobody's to report here.
 */
async function within<T>(work: Promise<T>, timeoutMs: number, late: Error): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(late), timeoutMs);
  });
  try {
    return await Promise.race([work, deadline]);
  } finally {
    clearTimeout(timer);
    work.catch(() => {});
  }
}
