// The life of a provider's token: is the in-memory copy fresh, one request
// in flight at a time (single-flight), the cache and its cross-process lock,
// and close().

import type { GetAccessTokenOptions } from "./provider_options.ts";
import type { Clock, TokenCache, TokenInfo } from "./token.ts";

/**
 * Fetches or refreshes a token. `stale` is the newest token known (from the
 * cache, else memory), whose refresh token a refresh grant uses.
 */
export type ObtainToken = (
  stale: TokenInfo | undefined,
  signal: AbortSignal,
) => Promise<TokenInfo>;

interface Flight {
  promise: Promise<TokenInfo>;
  controller: AbortController;
  /** Callers still waiting; when all have given up, the request stops. */
  waiters: number;
}

/** Validates `skewSeconds`. */
export function resolveSkewSeconds(owner: string, skewSeconds = 30): number {
  if (!(Number.isFinite(skewSeconds) && skewSeconds >= 0)) {
    throw new RangeError(
      `${owner}: "skewSeconds" must be a number of seconds >= 0, got ${skewSeconds}`,
    );
  }
  return skewSeconds;
}

export class TokenLifecycle {
  readonly #owner: string;
  readonly #cache: TokenCache;
  readonly #clock: Clock;
  readonly #skewMs: number;
  readonly #obtain: ObtainToken;
  #token: TokenInfo | undefined;
  #freshUntilMs = -Infinity;
  #flight: Flight | undefined;
  #closed = false;
  /** Aborted by close(): stops work done outside the refresh cycle. */
  readonly #closing = new AbortController();
  /** Work outside the refresh cycle (code exchanges) that close() awaits. */
  readonly #tasks = new Set<Promise<unknown>>();

  constructor(
    owner: string,
    cache: TokenCache,
    clock: Clock,
    skewSeconds: number,
    obtain: ObtainToken,
  ) {
    this.#owner = owner;
    this.#cache = cache;
    this.#clock = clock;
    this.#skewMs = skewSeconds * 1000;
    this.#obtain = obtain;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The hot path: a clock compare while the in-memory copy is fresh. */
  getAccessToken(options?: GetAccessTokenOptions): Promise<string> {
    if (
      !this.#closed && options?.forceRefresh !== true &&
      this.#clock.now() < this.#freshUntilMs
    ) {
      return Promise.resolve(this.#token!.accessToken);
    }
    return this.#slowPath(options?.forceRefresh === true, options?.signal);
  }

  async #slowPath(force: boolean, signal?: AbortSignal): Promise<string> {
    this.assertOpen();
    signal?.throwIfAborted();
    // A forced refresh must not come back with the token it is replacing.
    const replacing = force ? this.#token?.accessToken : undefined;
    for (;;) {
      const joined = this.#flight;
      const flight = joined ?? this.#startFlight(replacing);
      const token = await this.#wait(flight, signal);
      // A flight started by someone else may have reused the token being
      // replaced; our own flight's answer is final.
      if (
        joined === undefined || replacing === undefined ||
        token.accessToken !== replacing
      ) {
        return token.accessToken;
      }
    }
  }

  /**
   * Obtains a token outside the refresh cycle (a code exchange) and stores
   * it. `close()` aborts and awaits it like a refresh.
   */
  async obtainAndStore(
    obtain: (signal: AbortSignal) => Promise<TokenInfo>,
    callerSignal?: AbortSignal,
  ): Promise<TokenInfo> {
    this.assertOpen();
    const signal = callerSignal === undefined
      ? this.#closing.signal
      : AbortSignal.any([callerSignal, this.#closing.signal]);
    const task = (async () => {
      const token = await obtain(signal);
      this.assertOpen();
      this.#adopt(token);
      await this.#cache.set(token);
      return token;
    })();
    this.#tasks.add(task);
    try {
      return await task;
    } finally {
      this.#tasks.delete(task);
    }
  }

  assertOpen(): void {
    if (this.#closed) {
      throw new TypeError(
        `${this.#owner} is closed: create a new provider to get tokens again`,
      );
    }
  }

  /** Stops any request in flight and refuses further calls. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const reason = new TypeError(
      `${this.#owner} was closed while a token request was in flight`,
    );
    this.#closing.abort(reason);
    this.#flight?.controller.abort(reason);
    await Promise.allSettled([
      ...this.#tasks,
      ...(this.#flight ? [this.#flight.promise] : []),
    ]);
  }

  #isFresh(token: TokenInfo): boolean {
    return this.#clock.now() < token.expiresAt * 1000 - this.#skewMs;
  }

  #adopt(token: TokenInfo): void {
    this.#token = token;
    this.#freshUntilMs = token.expiresAt * 1000 - this.#skewMs;
  }

  #startFlight(replacing: string | undefined): Flight {
    const controller = new AbortController();
    const refresh = async (): Promise<TokenInfo> => {
      const cached = (await this.#cache.get()) ?? undefined;
      // Another instance or process may have refreshed already.
      if (
        cached !== undefined && this.#isFresh(cached) &&
        cached.accessToken !== replacing
      ) {
        return cached;
      }
      const token = await this.#obtain(
        cached ?? this.#token,
        controller.signal,
      );
      // Keep the new token even if persisting it fails: with rotating refresh
      // tokens it is the only valid one. The caller still hears of the failure.
      this.#adopt(token);
      await this.#cache.set(token);
      return token;
    };
    const lock = this.#cache.lock?.bind(this.#cache);
    const promise = (lock ? lock(refresh) : refresh()).then((token) => {
      this.#adopt(token);
      return token;
    }).finally(() => {
      if (this.#flight === flight) this.#flight = undefined;
    });
    // Rejections reach every waiter; none may go unhandled when all gave up.
    promise.catch(() => {});
    const flight: Flight = { promise, controller, waiters: 0 };
    this.#flight = flight;
    return flight;
  }

  #wait(flight: Flight, signal?: AbortSignal): Promise<TokenInfo> {
    flight.waiters++;
    if (signal === undefined) return flight.promise;
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        if (--flight.waiters === 0) {
          // Nobody waits any more: stop the request, and let the next caller
          // start a new one instead of joining this abandoned one.
          if (this.#flight === flight) this.#flight = undefined;
          flight.controller.abort(signal.reason);
        }
        reject(signal.reason);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      flight.promise.then(resolve, reject).finally(() =>
        signal.removeEventListener("abort", onAbort)
      );
    });
  }
}
