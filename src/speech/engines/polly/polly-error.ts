// How a failed Polly call reads in a SpeechError: the error's name and message, which come from
// Polly's x-amzn-errortype header and JSON body (or from Node for network errors). The SDK never puts
// credentials or signatures in either.

export function describePollyError(error: unknown): string {
  if (error instanceof Error) {
    const code = (error as { code?: unknown }).code;
    const name = error.name === 'Error' && typeof code === 'string' ? code : error.name;
    return error.message && error.message !== name ? `${name}: ${error.message}` : name;
  }
  return String(error);
}

/**
 * Polly's answers that refuse the request itself (SynthesizeSpeech's documented 400s other than
 * throttling): the same text and voice are refused again however often they are sent. Credentials
 * and permissions are left out on purpose: an operator fixes those, and the work should then resume.
 */
const INPUT_REFUSALS = new Set([
  'ValidationException',
  'TextLengthExceededException',
  'InvalidSsmlException',
  'InvalidSampleRateException',
  'EngineNotSupportedException',
  'LanguageNotSupportedException',
  'LexiconNotFoundException',
  'MarksNotSupportedForFormatException',
  'SsmlMarksNotSupportedForTextTypeException',
]);

export function isRefusalOfInput(error: unknown): boolean {
  return error instanceof Error && INPUT_REFUSALS.has(error.name);
}
