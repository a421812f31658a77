/**
 * {@linkcode FakeTokenCache}: a `TokenCache` that records how it is used.
 *
 * @module
 */

import type { TokenCache, TokenInfo } from "../auth/token.ts";

/**
 * Options of {@linkcode FakeTokenCache}.
 *
 * @example Start a provider with a cached token
 * ```ts
 * import { ClientCredentials } from "@spotify-sdk/auth";
 * import {
 *   FakeTokenCache,
 *   type FakeTokenCacheOptions,
 * } from "@spotify-sdk/auth/testing";
 *
 * const options: FakeTokenCacheOptions = {
 *   token: { accessToken: "cached-token", expiresAt: Date.now() / 1000 + 3600 },
 *   async: true, // like a cache on disk
 * };
 * const tokenCache = new FakeTokenCache(options);
 * await using auth = new ClientCredentials({
 *   clientId: "your-client-id",
 *   clientSecret: "your-client-secret",
 *   tokenCache,
 * });
 * console.log(await auth.getAccessToken()); // "cached-token": no request made
 * ```
 */
export interface FakeTokenCacheOptions {
  /**
   * The token the cache starts with (not counted in `sets` or `history`).
   *
   * @default {undefined}
   */
  readonly token?: TokenInfo;
  /**
   * Whether `get()` and `set()` return promises (like a cache backed by a
   * file or a database) instead of answering synchronously.
   *
   * @default {false}
   */
  readonly async?: boolean;
}

/**
 * A {@linkcode TokenCache} for tests: keeps one token, counts `get()` and
 * `set()` calls, remembers every token set, and can be told to fail.
 *
 * @example Check what a provider stored
 * ```ts
 * import { FakeTokenCache } from "@spotify-sdk/auth/testing";
 *
 * const cache = new FakeTokenCache({ async: true });
 * await cache.set({ accessToken: "fake-access-1", expiresAt: 1_767_229_200 });
 * console.log(cache.sets, cache.history.length, cache.token?.accessToken); // 1 1 "fake-access-1"
 * ```
 */
export class FakeTokenCache implements TokenCache {
  /** The token held now; tests may replace it directly (not counted). */
  token: TokenInfo | undefined;
  readonly #async: boolean;
  readonly #history: TokenInfo[] = [];
  readonly #getErrors: unknown[] = [];
  readonly #setErrors: unknown[] = [];
  #gets = 0;
  #sets = 0;
  #deletes = 0;

  /**
   * Creates a cache.
   *
   * @param options The starting token and whether methods are asynchronous.
   *
   * @example
   * ```ts
   * import { FakeTokenCache } from "@spotify-sdk/auth/testing";
   *
   * const cache = new FakeTokenCache({
   *   token: { accessToken: "cached", expiresAt: Date.now() / 1000 + 3600 },
   * });
   * ```
   */
  constructor(options: FakeTokenCacheOptions = {}) {
    this.token = options.token;
    this.#async = options.async ?? false;
  }

  /**
   * How many times `get()` was called (failed calls included).
   *
   * @example
   * ```ts
   * import { FakeTokenCache } from "@spotify-sdk/auth/testing";
   *
   * const cache = new FakeTokenCache();
   * cache.get();
   * console.log(cache.gets); // 1
   * ```
   */
  get gets(): number {
    return this.#gets;
  }

  /**
   * How many times `set()` was called (failed calls included).
   *
   * @example
   * ```ts
   * import { FakeTokenCache } from "@spotify-sdk/auth/testing";
   *
   * console.log(new FakeTokenCache().sets); // 0
   * ```
   */
  get sets(): number {
    return this.#sets;
  }

  /**
   * Every token stored by a successful `set()`, oldest first (a copy).
   *
   * @example
   * ```ts
   * import { FakeTokenCache } from "@spotify-sdk/auth/testing";
   *
   * console.log(new FakeTokenCache().history); // []
   * ```
   */
  get history(): readonly TokenInfo[] {
    return [...this.#history];
  }

  /**
   * How many times `delete()` was called.
   *
   * @example
   * ```ts
   * import { FakeTokenCache } from "@spotify-sdk/auth/testing";
   *
   * const cache = new FakeTokenCache();
   * cache.delete();
   * console.log(cache.deletes); // 1
   * ```
   */
  get deletes(): number {
    return this.#deletes;
  }

  /**
   * Makes the next `get()` throw (or reject, when `async`) with `error`.
   * Several calls queue several failures.
   *
   * @param error What to throw.
   *
   * @example
   * ```ts
   * import { FakeTokenCache } from "@spotify-sdk/auth/testing";
   *
   * const cache = new FakeTokenCache();
   * cache.failNextGet(new Error("disk on fire"));
   * ```
   */
  failNextGet(error: unknown): void {
    this.#getErrors.push(error);
  }

  /**
   * Makes the next `set()` throw (or reject, when `async`) with `error`,
   * leaving the stored token and `history` unchanged.
   *
   * @param error What to throw.
   *
   * @example
   * ```ts
   * import { FakeTokenCache } from "@spotify-sdk/auth/testing";
   *
   * const cache = new FakeTokenCache();
   * cache.failNextSet(new Error("read-only file system"));
   * ```
   */
  failNextSet(error: unknown): void {
    this.#setErrors.push(error);
  }

  /**
   * Returns the stored token.
   *
   * @returns The token or `undefined`; a promise of it when `async`.
   * @throws {unknown} The error queued with `failNextGet()`.
   *
   * @example
   * ```ts
   * import { FakeTokenCache } from "@spotify-sdk/auth/testing";
   *
   * console.log(new FakeTokenCache().get()); // undefined
   * ```
   */
  get(): TokenInfo | undefined | Promise<TokenInfo | undefined> {
    this.#gets++;
    if (this.#getErrors.length > 0) {
      const error = this.#getErrors.shift();
      if (this.#async) return Promise.reject(error);
      throw error;
    }
    return this.#async ? Promise.resolve(this.token) : this.token;
  }

  /**
   * Stores `token` and appends it to `history`.
   *
   * @param token The token to store.
   * @returns Nothing; a promise when `async`.
   * @throws {unknown} The error queued with `failNextSet()`.
   *
   * @example
   * ```ts
   * import { FakeTokenCache } from "@spotify-sdk/auth/testing";
   *
   * const cache = new FakeTokenCache();
   * cache.set({ accessToken: "a", expiresAt: 0 });
   * ```
   */
  set(token: TokenInfo): void | Promise<void> {
    this.#sets++;
    if (this.#setErrors.length > 0) {
      const error = this.#setErrors.shift();
      if (this.#async) return Promise.reject(error);
      throw error;
    }
    this.token = token;
    this.#history.push(token);
    return this.#async ? Promise.resolve() : undefined;
  }

  /**
   * Removes the stored token (`token` becomes `undefined`) and counts the
   * call in `deletes`; `history` keeps what was set.
   *
   * @returns Nothing; a promise when `async`.
   *
   * @example
   * ```ts
   * import { FakeTokenCache } from "@spotify-sdk/auth/testing";
   *
   * const cache = new FakeTokenCache({ token: { accessToken: "a", expiresAt: 0 } });
   * cache.delete();
   * console.log(cache.token, cache.deletes); // undefined 1
   * ```
   */
  delete(): void | Promise<void> {
    this.#deletes++;
    this.token = undefined;
    return this.#async ? Promise.resolve() : undefined;
  }
}
