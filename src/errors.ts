// The small set of errors our services throw. The error handler maps each to its status code and
// shows its message: these messages are written for clients and carry no secrets.

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class BadRequestError extends HttpError {
  constructor(message: string) {
    super(400, message);
  }
}

export class NotFoundError extends HttpError {
  constructor(message: string) {
    super(404, message);
  }
}

/** Well-formed input that names something we cannot use, such as a voice the engine cannot speak. */
export class UnprocessableError extends HttpError {
  constructor(message: string) {
    super(422, message);
  }
}

/** An upstream service (LLM, Polly, S3) failed; the message names which one and how. */
export class UpstreamError extends HttpError {}
