// The life of a provider's token: is the in-memory copy fresh, one request
// in flight at a time (single-flight), the cache and its cross-process lock,
// a dead refresh token (Spotify's 6-month sign-ins), sign-out, and close().

import { describeCacheMiss } from "./_cache_token.ts";
import type { TokenExpiry } from "./_provider_internals.ts";
import { SpotifyAuthError } from "./errors.ts";
import type { GetAccessTokenOptions } from "./provider_options.ts";
import type { Clock, TokenCache, TokenInfo } from "./token.ts";

/** What a refresh grant needs from the token it replaces. */
export interface RefreshSource {
  readonly refreshToken?: string;
  readonly authorizedAt?: number;
  readonly scope?: string;
}

/**
 * Fetches or refreshes a token. `source` is the newest token known (from the
 * cache, else memory, else the bootstrap refresh token), whose refresh token
 * a refresh grant uses. For user tokens it always carries a refresh token.
 */
export type ObtainToken = (
  source: RefreshSource | undefined,
  signal: AbortSignal,
) => Promise<TokenInfo>;

/** How a provider of user tokens (refresh grants) is set up. */
export interface UserTokenSettings {
  /** A refresh token from the options, used until a token is known. */
  bootstrap?: { refreshToken: string; authorizedAt?: number };
  /** Called once per dead refresh token this instance finds. */
  onAuthorizationLost?: (error: SpotifyAuthError) => void | Promise<void>;
}

interface Flight {
  promise: Promise<TokenInfo>;
  controller: AbortController;
  /** Callers still waiting; when all have given up, the request stops. */
  waiters: number;
  /** The work itself, which close() waits for (boundedly). */
  work: Promise<unknown>;
  /** Started by a forced refresh: it never hands back the cached token. */
  forced: boolean;
}

/** How many dead refresh tokens a provider remembers (never sent again). */
const DEAD_REFRESH_TOKENS_KEPT = 16;
/** close() stops waiting for work that ignores its abort signal after this. */
const CLOSE_WAIT_LIMIT_MS = 1000;

export class TokenLifecycle {
  readonly #owner: string;
  readonly #cache: TokenCache;
  readonly #clock: Clock;
  readonly #skewMs: number;
  readonly #obtain: ObtainToken;
  readonly #user: UserTokenSettings | undefined;
  #token: TokenInfo | undefined;
  #freshUntilMs = -Infinity;
  #flight: Flight | undefined;
  #closed = false;
  /** The bootstrap refresh token, until a token is known or the user left. */
  #bootstrap: RefreshSource | undefined;
  /** A token whose `cache.set()` failed: written back once the cache works. */
  #unsaved: TokenInfo | undefined;
  /** Why the user must sign in again (dead refresh token, sign-out). */
  #lost: "expired" | "signed_out" | undefined;
  /** Refresh tokens found dead: never sent again by this instance. */
  readonly #deadRefreshTokens = new Set<string>();
  /** Aborted by close(): stops work done outside the refresh cycle. */
  readonly #closing = new AbortController();
  /** Work outside the refresh cycle (code exchanges) that close() awaits. */
  readonly #tasks = new Set<Promise<unknown>>();

  constructor(
    owner: string,
    cache: TokenCache,
    clock: Clock,
    /** Validated by the provider's options check; 30 when not given. */
    skewSeconds: number | undefined,
    obtain: ObtainToken,
    user?: UserTokenSettings,
  ) {
    this.#owner = owner;
    this.#cache = cache;
    this.#clock = clock;
    this.#skewMs = (skewSeconds ?? 30) * 1000;
    this.#obtain = obtain;
    this.#user = user;
    this.#bootstrap = user?.bootstrap;
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
    return this.#slowPath(options?.forceRefresh === true, options?.signal)
      .then((token) => token.accessToken);
  }

  /** The expiry of `accessToken` if it is the current token, for adapters. */
  expiryOf(accessToken: string): TokenExpiry | undefined {
    const token = this.#token;
    if (token === undefined || token.accessToken !== accessToken) {
      return undefined;
    }
    return { expiresAt: token.expiresAt, nowMs: this.#clock.now() };
  }

  async #slowPath(force: boolean, signal?: AbortSignal): Promise<TokenInfo> {
    this.assertOpen();
    signal?.throwIfAborted();
    // A forced refresh must not come back with the token it is replacing
    // (with nothing in memory: with whatever the cache holds).
    const replacing = force ? this.#token?.accessToken : undefined;
    for (;;) {
      const joined = this.#flight;
      const flight = joined ?? this.#startFlight(force, replacing);
      const token = await this.#wait(flight, signal);
      // Our own flight's answer is final; one started by someone else may
      // have reused the token being replaced.
      if (joined === undefined || !force) return token;
      if (
        replacing === undefined
          ? joined.forced
          : token.accessToken !== replacing
      ) {
        return token;
      }
    }
  }

  /**
   * Obtains a token outside the refresh cycle (a code exchange) and stores
   * it. `close()` aborts and awaits it like a refresh. A new sign-in ends
   * whatever "signed out" or "authorization lost" state came before.
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
      this.#lost = undefined;
      this.#bootstrap = undefined;
      await this.#store(token);
      return token;
    })();
    this.#tasks.add(task);
    try {
      return await task;
    } finally {
      this.#tasks.delete(task);
    }
  }

  /**
   * The current user token without any request: memory, else the cache,
   * else the bootstrap refresh token's details.
   */
  async peekToken(): Promise<RefreshSource | undefined> {
    this.assertOpen();
    if (this.#token !== undefined) return this.#token;
    const cached = (await this.#cache.get()) ?? undefined;
    if (cached !== undefined && !this.#isDead(cached)) return cached;
    return this.#bootstrap;
  }

  /**
   * Forgets the token in memory and removes it from the cache; a refresh in
   * flight is aborted first. Later calls reject `authorization_required`
   * without a request until a new code exchange.
   */
  async signOut(): Promise<void> {
    this.assertOpen();
    if (typeof this.#cache.delete !== "function") {
      throw new TypeError(
        `${this.#owner}.signOut(): the token cache (${
          this.#cache.constructor?.name ?? "object"
        }) has no delete() method, so the token cannot be removed; use a cache that implements delete()`,
      );
    }
    const flight = this.#flight;
    if (flight !== undefined) {
      this.#flight = undefined;
      flight.controller.abort(this.#lostError("signed_out"));
      await settleWithin(flight.work, CLOSE_WAIT_LIMIT_MS);
    }
    this.#forget();
    this.#lost = "signed_out";
    this.#bootstrap = undefined;
    this.#unsaved = undefined;
    await this.#cache.delete();
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
      `${this.#owner} is closed: it was closed while a token request was in flight`,
    );
    this.#closing.abort(reason);
    this.#flight?.controller.abort(reason);
    // Work that ignores its signal (a custom cache's lock) must not hold
    // close() for long: its callers were already rejected with `reason`.
    await settleWithin(
      Promise.allSettled([
        ...this.#tasks,
        ...(this.#flight ? [this.#flight.work] : []),
      ]),
      CLOSE_WAIT_LIMIT_MS,
    );
  }

  #isFresh(token: TokenInfo): boolean {
    return this.#clock.now() < token.expiresAt * 1000 - this.#skewMs;
  }

  #isDead(token: RefreshSource): boolean {
    return token.refreshToken !== undefined &&
      this.#deadRefreshTokens.has(token.refreshToken);
  }

  #adopt(token: TokenInfo): void {
    this.#token = token;
    this.#freshUntilMs = token.expiresAt * 1000 - this.#skewMs;
  }

  #forget(): void {
    this.#token = undefined;
    this.#freshUntilMs = -Infinity;
  }

  /** Stores `token`; if that fails, remembers it to write back later. */
  async #store(token: TokenInfo): Promise<void> {
    this.#unsaved = token;
    await this.#cache.set(token);
    if (this.#unsaved === token) this.#unsaved = undefined;
  }

  #startFlight(force: boolean, replacing: string | undefined): Flight {
    const controller = new AbortController();
    const hasLock = typeof this.#cache.lock === "function";
    const refresh = async (): Promise<TokenInfo> => {
      let cached = (await this.#cache.get()) ?? undefined;
      controller.signal.throwIfAborted();
      // A token this process obtained while the cache was failing is newer
      // than what the cache holds: write it back now that the cache answers.
      const unsaved = this.#unsaved;
      if (
        unsaved !== undefined &&
        (cached === undefined || cached.expiresAt < unsaved.expiresAt)
      ) {
        await this.#store(unsaved);
        cached = unsaved;
      }
      // Another instance or process may have refreshed already.
      if (
        cached !== undefined && this.#isFresh(cached) &&
        !this.#isDead(cached) &&
        (!force ||
          (replacing !== undefined && cached.accessToken !== replacing))
      ) {
        return cached;
      }
      // A shared cache found empty means signed out elsewhere: never fall
      // back to a token remembered here.
      const source: RefreshSource | undefined = cached ??
        (hasLock ? undefined : this.#token) ?? this.#bootstrap;
      if (this.#user !== undefined) {
        if (source?.refreshToken === undefined || this.#isDead(source)) {
          throw await this.#noUserToken(source);
        }
      }
      let token: TokenInfo;
      try {
        token = await this.#obtain(source, controller.signal);
      } catch (error) {
        if (
          this.#user !== undefined && error instanceof SpotifyAuthError &&
          error.code === "invalid_grant"
        ) {
          return await this.#refreshTokenDied(
            source!.refreshToken!,
            error,
            controller.signal,
          );
        }
        throw error;
      }
      // Signed out or closed meanwhile: the answer must not bring it back.
      controller.signal.throwIfAborted();
      this.#bootstrap = undefined;
      // Keep the new token even if persisting it fails: with rotating refresh
      // tokens it is the only valid one. The caller still hears of the failure.
      this.#adopt(token);
      await this.#store(token);
      return token;
    };
    const lock = this.#cache.lock?.bind(this.#cache);
    const work = lock
      ? lock(refresh, { signal: controller.signal })
      : refresh();
    // Waiters hear of an abort (close, sign-out) at once, even from a cache
    // whose lock ignores the signal.
    const promise = new Promise<TokenInfo>((resolve, reject) => {
      const onAbort = () => reject(controller.signal.reason);
      controller.signal.addEventListener("abort", onAbort, { once: true });
      work.then((token) => {
        controller.signal.removeEventListener("abort", onAbort);
        if (controller.signal.aborted) {
          reject(controller.signal.reason);
          return;
        }
        this.#adopt(token);
        resolve(token);
      }, (error) => {
        controller.signal.removeEventListener("abort", onAbort);
        reject(error);
      });
    }).finally(() => {
      if (this.#flight === flight) this.#flight = undefined;
    });
    // Rejections reach every waiter; none may go unhandled when all gave up.
    promise.catch(() => {});
    work.catch(() => {});
    const flight: Flight = {
      promise,
      controller,
      waiters: 0,
      work,
      forced: force,
    };
    this.#flight = flight;
    return flight;
  }

  /**
   * A refresh grant was answered `invalid_grant`: the refresh token is dead
   * (expired after 6 months, revoked, rotated away). Runs inside the cache
   * lock, so a fleet sends a dead token once.
   */
  async #refreshTokenDied(
    deadToken: string,
    invalidGrant: SpotifyAuthError,
    signal: AbortSignal,
  ): Promise<TokenInfo> {
    this.#rememberDead(deadToken);
    let current: TokenInfo | undefined;
    try {
      current = (await this.#cache.get()) ?? undefined;
    } catch {
      current = undefined;
    }
    if (
      current?.refreshToken !== undefined && current.refreshToken !== deadToken
    ) {
      // Someone signed the user in again meanwhile: use that sign-in.
      this.#lost = undefined;
      if (this.#isFresh(current)) return current;
      const token = await this.#obtain(current, signal);
      signal.throwIfAborted();
      this.#adopt(token);
      await this.#store(token);
      return token;
    }
    if (current !== undefined && typeof this.#cache.delete === "function") {
      try {
        await this.#cache.delete();
      } catch {
        // The token is dead either way; this instance never sends it again.
      }
    }
    this.#forget();
    this.#bootstrap = undefined;
    this.#unsaved = undefined;
    this.#lost = "expired";
    const error = this.#lostError("expired", invalidGrant);
    try {
      await this.#user?.onAuthorizationLost?.(error);
    } catch {
      // The app's callback must not change what the caller is told.
    }
    throw error;
  }

  #rememberDead(refreshToken: string): void {
    this.#deadRefreshTokens.add(refreshToken);
    if (this.#deadRefreshTokens.size > DEAD_REFRESH_TOKENS_KEPT) {
      const oldest = this.#deadRefreshTokens.values().next().value!;
      this.#deadRefreshTokens.delete(oldest);
    }
  }

  #lostError(
    why: "expired" | "signed_out",
    invalidGrant?: SpotifyAuthError,
  ): SpotifyAuthError {
    return why === "expired"
      ? new SpotifyAuthError(
        "authorization_required",
        "The user's Spotify authorization expired or was revoked (Spotify ends sign-ins after 6 months): the user must sign in again (getAuthorizationUrl() + exchangeCode(), or authorizeLocal())",
        invalidGrant === undefined
          ? { status: 400 }
          : { status: 400, cause: invalidGrant },
      )
      : new SpotifyAuthError(
        "authorization_required",
        "The user signed out: the user must sign in again (getAuthorizationUrl() + exchangeCode(), or authorizeLocal())",
      );
  }

  /** The error for "no usable refresh token", saying why where it can. */
  async #noUserToken(
    source: RefreshSource | undefined,
  ): Promise<SpotifyAuthError> {
    if (source !== undefined && this.#isDead(source)) {
      return this.#lostError("expired");
    }
    if (this.#lost !== undefined) return this.#lostError(this.#lost);
    let where = "";
    try {
      const text = await describeCacheMiss(this.#cache);
      if (typeof text === "string" && text !== "") where = ` (${text})`;
    } catch {
      // Only a hint for the message.
    }
    return new SpotifyAuthError(
      "authorization_required",
      `No user token yet${where}: run the authorization flow first (authorizeLocal() for a CLI, or getAuthorizationUrl() + exchangeCode()), or pass a stored refreshToken`,
    );
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

/** Waits for `work` to settle, but at most `limitMs`. */
async function settleWithin(
  work: Promise<unknown>,
  limitMs: number,
): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    await Promise.race([
      work.then(() => {}, () => {}),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, limitMs);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
