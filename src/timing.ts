// How a service reports how long each phase of its work took, without knowing about HTTP:
// http/server-timing.ts collects the phases into the Server-Timing response header.

export interface Timing {
  measure<T>(name: string, work: () => Promise<T>): Promise<T>;
}

/** For callers that want no phases; measuring would cost two performance.now() calls. */
export const untimed: Timing = { measure: (_name, work) => work() };
