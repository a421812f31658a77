/**
 * {@linkcode FakeAuthProvider}: an `AuthProvider` that hands out fixed
 * tokens, for testing code that takes a provider.
 *
 * @module
 */

import type { AuthProvider } from "../auth/token.ts";

/**
 * Options of {@linkcode FakeAuthProvider.prototype.getAccessToken}.
 *
 * @example An aborted signal rejects, as with the real providers
 * ```ts
 * import {
 *   FakeAuthProvider,
 *   type FakeGetAccessTokenOptions,
 * } from "@spotify-sdk/auth/testing";
 *
 * const provider = new FakeAuthProvider();
 * const controller = new AbortController();
 * controller.abort(new Error("cancelled"));
 * const options: FakeGetAccessTokenOptions = { signal: controller.signal };
 * await provider.getAccessToken(options).catch((error) => {
 *   console.log(error.message); // "cancelled"
 * });
 * ```
 */
export interface FakeGetAccessTokenOptions {
  /** Accepted like the real providers' option; the fake's tokens are fixed. */
  readonly forceRefresh?: boolean;
  /** Rejects with `signal.reason` when already aborted. */
  readonly signal?: AbortSignal;
}

/**
 * An {@linkcode AuthProvider} returning a fixed token, or the next of a list
 * of tokens on each call (repeating the last one after the end), and
 * counting the calls.
 *
 * @example
 * ```ts
 * import { FakeAuthProvider } from "@spotify-sdk/auth/testing";
 *
 * const provider = new FakeAuthProvider(["first", "second"]);
 * console.log(await provider.getAccessToken()); // "first"
 * console.log(await provider.getAccessToken()); // "second"
 * console.log(await provider.getAccessToken()); // "second"
 * console.log(provider.calls); // 3
 * ```
 */
export class FakeAuthProvider implements AuthProvider {
  readonly #tokens: readonly string[];
  #calls = 0;
  #closed = false;

  /**
   * Creates a provider of `token`.
   *
   * @param token The token, or the tokens in the order they are returned.
   * @throws {TypeError} If a token is not a non-empty string, or the list is
   * empty.
   *
   * @example
   * ```ts
   * import { FakeAuthProvider } from "@spotify-sdk/auth/testing";
   *
   * const provider = new FakeAuthProvider("my-token");
   * ```
   */
  constructor(token: string | readonly string[] = "fake-access-token") {
    const tokens = typeof token === "string" ? [token] : [...token];
    if (tokens.length === 0) {
      throw new TypeError("FakeAuthProvider needs at least one token");
    }
    if (tokens.some((value) => typeof value !== "string" || value === "")) {
      throw new TypeError("FakeAuthProvider tokens must be non-empty strings");
    }
    this.#tokens = tokens;
  }

  /**
   * How many times `getAccessToken()` was called.
   *
   * @example
   * ```ts
   * import { FakeAuthProvider } from "@spotify-sdk/auth/testing";
   *
   * console.log(new FakeAuthProvider().calls); // 0
   * ```
   */
  get calls(): number {
    return this.#calls;
  }

  /**
   * Whether `close()` was called.
   *
   * @example
   * ```ts
   * import { FakeAuthProvider } from "@spotify-sdk/auth/testing";
   *
   * const provider = new FakeAuthProvider();
   * provider.close();
   * console.log(provider.closed); // true
   * ```
   */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Returns the next token.
   *
   * @param options Accepted for parity with the real providers.
   * @returns The token for this call.
   * @throws {Error} If the provider was closed (the promise rejects).
   *
   * @example
   * ```ts
   * import { FakeAuthProvider } from "@spotify-sdk/auth/testing";
   *
   * const provider = new FakeAuthProvider();
   * console.log(await provider.getAccessToken()); // "fake-access-token"
   * ```
   */
  getAccessToken(options: FakeGetAccessTokenOptions = {}): Promise<string> {
    const index = Math.min(this.#calls, this.#tokens.length - 1);
    this.#calls++;
    if (this.#closed) {
      return Promise.reject(new Error("FakeAuthProvider is closed"));
    }
    if (options.signal?.aborted) return Promise.reject(options.signal.reason);
    return Promise.resolve(this.#tokens[index]);
  }

  /**
   * Marks the provider closed; later `getAccessToken()` calls reject.
   *
   * @example
   * ```ts
   * import { FakeAuthProvider } from "@spotify-sdk/auth/testing";
   *
   * const provider = new FakeAuthProvider();
   * provider.close();
   * ```
   */
  close(): void {
    this.#closed = true;
  }

  /**
   * Same as {@linkcode FakeAuthProvider.prototype.close}, for `await using`.
   *
   * @example
   * ```ts
   * import { FakeAuthProvider } from "@spotify-sdk/auth/testing";
   *
   * await using provider = new FakeAuthProvider();
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
  }
}
