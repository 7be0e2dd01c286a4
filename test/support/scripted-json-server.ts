/**
 * The mechanics shared by the fake JSON APIs (gemini-server.ts, openai-server.ts): a loopback HTTP
 * server that records every request with its parsed JSON body and answers it with whatever the fake
 * computes, {status, headers, body}, optionally after a delay. What a request means (routes, keys,
 * scripted answers) is left to the fake.
 *
 * A record's `clientAborted` turns true when the client hangs up before its answer is sent, so a
 * test can see that an aborted SDK call really dropped its connection. close() drops pending
 * delayed answers rather than waiting for them.
 */
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type ServerResponse } from 'node:http';
import { closeNow, listenOnLoopback, readBody } from './loopback-http.ts';

export interface JsonAnswer {
  status: number;
  body: unknown;
  headers?: Record<string, string> | undefined;
}

export interface RecordedJsonRequest<Body extends object> {
  method: string;
  /** The path without the query string. */
  path: string;
  headers: IncomingHttpHeaders;
  /** The parsed JSON body, or {} when it was empty or not JSON. */
  body: Body;
  clientAborted: boolean;
}

export interface ScriptedJsonServerOptions<Request extends RecordedJsonRequest<object>> {
  /** The content-type of every answer. */
  contentType: string;
  /** Makes the record kept in `requests` from what was received, e.g. adding fields read from the path. */
  record(received: RecordedJsonRequest<Request['body']>): Request;
  /** Called once per request as it arrives, after it is recorded: the answer and how long to hold it back. */
  answer(request: Request): { answer: JsonAnswer; delayMs: number };
}

export interface ScriptedJsonServer<Request> {
  /** e.g. http://127.0.0.1:41234 */
  origin: string;
  /** Every request received, oldest first. */
  requests: Request[];
  close(): Promise<void>;
}

export async function startScriptedJsonServer<Request extends RecordedJsonRequest<object>>(
  options: ScriptedJsonServerOptions<Request>,
): Promise<ScriptedJsonServer<Request>> {
  const requests: Request[] = [];
  const timers = new Set<NodeJS.Timeout>();

  const handle = async (incoming: IncomingMessage, res: ServerResponse) => {
    const raw = (await readBody(incoming)).toString('utf8');
    const record = options.record({
      method: incoming.method ?? 'GET',
      path: (incoming.url ?? '/').split('?')[0]!,
      headers: incoming.headers,
      body: parseJson<Request['body']>(raw),
      clientAborted: false,
    });
    requests.push(record);
    res.on('close', () => {
      if (!res.writableEnded) record.clientAborted = true;
    });

    const { answer, delayMs } = options.answer(record);
    const send = () => {
      if (res.destroyed) return;
      res.writeHead(answer.status, { 'content-type': options.contentType, ...answer.headers });
      res.end(JSON.stringify(answer.body));
    };
    if (delayMs <= 0) return send();
    const timer = setTimeout(() => {
      timers.delete(timer);
      send();
    }, delayMs);
    timers.add(timer);
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String(error));
    });
  });

  return {
    origin: await listenOnLoopback(server),
    requests,
    close: async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      await closeNow(server);
    },
  };
}

function parseJson<Body extends object>(raw: string): Body {
  try {
    const parsed: unknown = JSON.parse(raw);
    return typeof parsed === 'object' && parsed !== null ? (parsed as Body) : ({} as Body);
  } catch {
    return {} as Body;
  }
}
