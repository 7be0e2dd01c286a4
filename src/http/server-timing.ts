// Collects how long each phase of a request took, for the Server-Timing response header. Browsers'
// dev tools show it, and the benchmarks read it to split server time into database, LLM, speech
// and URL building without instrumenting anything else.
import type { FastifyReply } from 'fastify';
import type { Timing } from '../timing.ts';

export class ServerTiming implements Timing {
  private readonly phases: Array<[string, number]> = [];

  async measure<T>(name: string, work: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await work();
    } finally {
      this.phases.push([name, performance.now() - start]);
    }
  }

  header(): string {
    return this.phases.map(([name, ms]) => `${name};dur=${ms.toFixed(3)}`).join(', ');
  }
}

/** Runs a handler's work with a fresh ServerTiming and sets the Server-Timing header from it. */
export async function withServerTiming<T>(reply: FastifyReply, work: (timing: ServerTiming) => Promise<T>): Promise<T> {
  const timing = new ServerTiming();
  const result = await work(timing);
  reply.header('server-timing', timing.header());
  return result;
}
