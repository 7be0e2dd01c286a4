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
