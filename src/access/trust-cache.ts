// Checked credentials, each trusted until a time, so that a client sending the same credential
// again and again costs no database lookup or signature check each time. Bounded: Map keeps
// insertion order, so past the bound the oldest entry goes.
export interface TrustCache<V> {
  /** The value, if its trust has not run out. */
  get(key: string): V | undefined;
  set(key: string, value: V, until: number): void;
  /** Stops trusting every entry whose value matches. */
  forget(matches: (value: V) => boolean): void;
}

export function createTrustCache<V>(maxEntries: number): TrustCache<V> {
  const entries = new Map<string, { value: V; until: number }>();
  return {
    get(key) {
      const entry = entries.get(key);
      if (!entry) return undefined;
      if (entry.until > Date.now()) return entry.value;
      entries.delete(key);
      return undefined;
    },
    set(key, value, until) {
      if (!entries.has(key) && entries.size >= maxEntries) entries.delete(entries.keys().next().value!);
      entries.set(key, { value, until });
    },
    forget(matches) {
      for (const [key, entry] of entries) if (matches(entry.value)) entries.delete(key);
    },
  };
}
