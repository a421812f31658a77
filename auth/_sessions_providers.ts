// The in-memory side of UserSessions: one AuthorizationCode per hot session,
// in a capped LRU. Each provider has its own single-flight, so one user's
// slow refresh never delays another's; tokens themselves live in KV, so a
// session pushed out of the LRU loses nothing but its in-memory copy.

import type { AuthorizationCode } from "./authorization_code.ts";

interface Entry {
  readonly provider: AuthorizationCode;
  /** Calls running on this provider right now. */
  active: number;
  /** Out of the LRU: close once the last running call settles. */
  evicted: boolean;
}

/** A capped LRU of per-session providers that never closes one in use. */
export class SessionProviders {
  readonly #max: number;
  /** Oldest first: Map keeps insertion order, and a hit re-inserts. */
  readonly #entries = new Map<string, Entry>();
  /** Every provider not yet closed, also the evicted-but-busy ones. */
  readonly #open = new Set<Entry>();
  readonly #closing = new Set<Promise<void>>();

  constructor(max: number) {
    this.#max = max;
  }

  /**
   * Runs `fn` with the session's provider, made by `create` on a miss. The
   * provider stays open until `fn` settles, even if the LRU lets go of it
   * meanwhile: closing it would reject another request's call.
   */
  async use<T>(
    sessionId: string,
    create: () => AuthorizationCode,
    fn: (provider: AuthorizationCode) => Promise<T>,
  ): Promise<T> {
    let entry = this.#entries.get(sessionId);
    if (entry === undefined) {
      entry = this.#insert(sessionId, create(), 1);
    } else {
      this.#entries.delete(sessionId);
      this.#entries.set(sessionId, entry);
      entry.active++;
    }
    try {
      return await fn(entry.provider);
    } finally {
      entry.active--;
      if (entry.evicted && entry.active === 0) this.#close(entry);
    }
  }

  /** Keeps `provider` (just signed in) as the session's hot provider. */
  adopt(sessionId: string, provider: AuthorizationCode): void {
    this.remove(sessionId);
    this.#insert(sessionId, provider);
  }

  /** The session's provider, if one is kept (the LRU order is unchanged). */
  peek(sessionId: string): AuthorizationCode | undefined {
    return this.#entries.get(sessionId)?.provider;
  }

  /**
   * Takes the session's provider out of the LRU and returns it; it is closed
   * once no call runs on it.
   */
  remove(sessionId: string): AuthorizationCode | undefined {
    const entry = this.#entries.get(sessionId);
    if (entry === undefined) return undefined;
    this.#entries.delete(sessionId);
    this.#evict(entry);
    return entry.provider;
  }

  /** Closes every provider, busy or not (their calls reject). */
  async close(): Promise<void> {
    this.#entries.clear();
    for (const entry of this.#open) this.#close(entry);
    await Promise.all(this.#closing);
  }

  #insert(
    sessionId: string,
    provider: AuthorizationCode,
    active = 0,
  ): Entry {
    // Counted as busy before the cap is applied, so that with a cap of 0 the
    // new provider still serves the call that made it.
    const entry: Entry = { provider, active, evicted: false };
    this.#entries.set(sessionId, entry);
    this.#open.add(entry);
    while (this.#entries.size > this.#max) {
      const [oldestId, oldest] = this.#entries.entries().next().value!;
      this.#entries.delete(oldestId);
      this.#evict(oldest);
    }
    return entry;
  }

  #evict(entry: Entry): void {
    entry.evicted = true;
    if (entry.active === 0) this.#close(entry);
  }

  #close(entry: Entry): void {
    if (!this.#open.delete(entry)) return;
    const closing = entry.provider.close().catch(() => {}).finally(() =>
      this.#closing.delete(closing)
    );
    this.#closing.add(closing);
  }
}
