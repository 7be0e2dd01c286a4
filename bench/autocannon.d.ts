// autocannon 9 ships no type declarations; this covers the part of its API the benchmarks use.
declare module 'autocannon' {
  /** hdr-histogram-percentiles-obj: summary of a histogram. */
  export interface Histogram {
    average: number;
    mean: number;
    stddev: number;
    min: number;
    max: number;
    total: number;
    p2_5: number;
    p50: number;
    p75: number;
    p90: number;
    p97_5: number;
    p99: number;
  }

  export interface Result {
    /** Requests completed per one-second sample. */
    requests: Histogram;
    /** Latency of each request in ms. */
    latency: Histogram;
    errors: number;
    timeouts: number;
    non2xx: number;
    /** Seconds. */
    duration: number;
  }

  export interface RequestSpec {
    method?: string;
    path?: string;
    body?: string;
    headers?: Record<string, string>;
    onResponse?: (status: number, body: string, context: Record<string, unknown>, headers: Record<string, string | string[]>) => void;
  }

  export interface Options {
    url: string;
    connections?: number;
    /** Seconds. */
    duration?: number;
    amount?: number;
    requests?: RequestSpec[];
  }

  export default function autocannon(opts: Options): PromiseLike<Result>;
}
