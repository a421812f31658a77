/**
 * Tokens, token caches, providers and clocks: the shapes every part of the
 * module agrees on.
 *
 * @module
 */

/**
 * An access token with its expiry, as providers and caches hold it.
 *
 * Field names follow the Python SDK's `TokenInfo` in camelCase; on disk,
 * {@linkcode FileTokenCache} writes the Python SDK's snake_case shape.
 *
 * @example Seed a cache with a token from elsewhere
 * ```ts
 * import { InMemoryTokenCache, type TokenInfo } from "@spotify-sdk/auth";
 *
 * const token: TokenInfo = {
 *   accessToken: "BQD...",
 *   expiresAt: Date.now() / 1000 + 3600,
 *   refreshToken: "AQB...",
 *   scope: "user-read-private playlist-read-private",
 * };
 * const cache = new InMemoryTokenCache(token);
 * ```
 */
export interface TokenInfo {
  /** The bearer token sent to the Web API. */
  readonly accessToken: string;
  /** Expiry as Unix time in seconds (may be fractional). */
  readonly expiresAt: number;
  /** The refresh token of a user authorization; absent for app tokens. */
  readonly refreshToken?: string;
  /** Space-separated scopes the token was granted. */
  readonly scope?: string;
  /**
   * When the user granted this authorization (signed in), as Unix time in
   * seconds. Set by a code exchange and carried over unchanged by refreshes
   * (a refresh is not a sign-in); absent for app tokens and when unknown.
   */
  readonly authorizedAt?: number;
}

/**
 * Where a provider keeps its token between calls (and, for persistent caches,
 * between runs and processes). Methods may be synchronous or asynchronous.
 *
 * @example A cache backed by a plain variable
 * ```ts
 * import type { TokenCache, TokenInfo } from "@spotify-sdk/auth";
 *
 * let stored: TokenInfo | undefined;
 * const cache: TokenCache = {
 *   get: () => stored,
 *   set: (token) => {
 *     stored = token;
 *   },
 * };
 * ```
 */
export interface TokenCache {
  /** Returns the stored token, or `undefined`/`null` when there is none. */
  get(): TokenInfo | undefined | null | Promise<TokenInfo | undefined | null>;
  /** Stores `token`, replacing any previous one. */
  set(token: TokenInfo): void | Promise<void>;
  /**
   * Optional: run `fn` while holding a lock shared by every process that
   * uses the same store, so one refresh happens per expiry across them.
   */
  lock?<T>(fn: () => Promise<T>, options?: TokenCacheLockOptions): Promise<T>;
  /**
   * Optional: removes the stored token (sign-out, a dead refresh token).
   * Removing what is not there is not an error.
   */
  delete?(): void | Promise<void>;
}

/** Options the provider passes to {@linkcode TokenCache.lock}. */
export interface TokenCacheLockOptions {
  /**
   * Aborted when the provider is closed: a cache that waits for its lock
   * stops waiting and rejects with `signal.reason`. Caches may ignore it.
   */
  signal?: AbortSignal;
}

/**
 * Anything that can hand out an access token: the built-in providers, or
 * your own.
 *
 * @example A provider for a token you already have
 * ```ts
 * import type { AuthProvider } from "@spotify-sdk/auth";
 *
 * const provider: AuthProvider = {
 *   getAccessToken: () => Promise.resolve("BQD..."),
 * };
 * ```
 */
export interface AuthProvider {
  /** Returns a valid access token, fetching or refreshing it as needed. */
  getAccessToken(): Promise<string>;
  /** Releases whatever the provider holds. */
  close?(): void | Promise<void>;
}

/**
 * A source of the current time in milliseconds, like `Date.now()`. Inject
 * one (for example `FakeClock` from `@spotify-sdk/auth/testing`) to drive
 * expiry in tests.
 *
 * @example A clock that is always one hour ahead
 * ```ts
 * import type { Clock } from "@spotify-sdk/auth";
 *
 * const clock: Clock = { now: () => Date.now() + 3_600_000 };
 * ```
 */
export interface Clock {
  /** Current time in milliseconds since the Unix epoch. */
  now(): number;
}

/**
 * The default token cache: keeps one token in memory for the life of the
 * provider.
 *
 * @example
 * ```ts
 * import { ClientCredentials, InMemoryTokenCache } from "@spotify-sdk/auth";
 *
 * const auth = new ClientCredentials({
 *   clientId: "your-client-id",
 *   clientSecret: "your-client-secret",
 *   tokenCache: new InMemoryTokenCache(),
 * });
 * ```
 */
export class InMemoryTokenCache implements TokenCache {
  #token: TokenInfo | undefined;

  /**
   * Creates a cache, optionally holding `token` already.
   *
   * @param token The token to start with.
   */
  constructor(token?: TokenInfo) {
    this.#token = token;
  }

  /**
   * Returns the stored token.
   *
   * @returns The token, or `undefined` when none was stored.
   */
  get(): TokenInfo | undefined {
    return this.#token;
  }

  /**
   * Replaces the stored token.
   *
   * @param token The token to keep.
   */
  set(token: TokenInfo): void {
    this.#token = token;
  }

  /**
   * Removes the stored token; later {@linkcode InMemoryTokenCache.get} calls
   * return `undefined`.
   *
   * @example Forget the token
   * ```ts
   * import { InMemoryTokenCache } from "@spotify-sdk/auth";
   *
   * const cache = new InMemoryTokenCache({ accessToken: "a", expiresAt: 2e9 });
   * cache.delete();
   * console.log(cache.get()); // undefined
   * ```
   */
  delete(): void {
    this.#token = undefined;
  }
}
