/**
 * Options shared by {@linkcode ClientCredentials} and
 * {@linkcode AuthorizationCode}.
 *
 * @module
 */

import type { Clock, TokenCache } from "./token.ts";

/**
 * Options every provider accepts.
 *
 * @example Everything at its default, credentials given explicitly
 * ```ts
 * import { ClientCredentials, type ProviderOptions } from "@spotify-sdk/auth";
 *
 * const options: ProviderOptions = {
 *   clientId: "your-client-id",
 *   clientSecret: "your-client-secret",
 *   skewSeconds: 30,
 *   timeoutMs: 10_000,
 *   maxRetries: 3,
 *   retryDelayMs: 500,
 * };
 * const auth = new ClientCredentials(options);
 * ```
 */
export interface ProviderOptions {
  /**
   * The app's client ID.
   *
   * @default {env SPOTIFY_SDK_CLIENT_ID}
   */
  clientId?: string;
  /**
   * The app's client secret (not needed with `pkce: true`).
   *
   * @default {env SPOTIFY_SDK_CLIENT_SECRET}
   */
  clientSecret?: string;
  /**
   * Where tokens are kept.
   *
   * @default {new InMemoryTokenCache()}
   */
  tokenCache?: TokenCache;
  /**
   * Refresh this many seconds before the token's `expiresAt`.
   *
   * @default {30}
   */
  skewSeconds?: number;
  /**
   * Time limit of one HTTP attempt, in milliseconds.
   *
   * @default {10_000}
   */
  timeoutMs?: number;
  /**
   * Retries after a network error, a timeout, a 5xx or a 429.
   *
   * @default {3}
   */
  maxRetries?: number;
  /**
   * First backoff in milliseconds; doubles per retry, capped at 8 s, with
   * full jitter. A 429's `Retry-After` is honoured instead.
   *
   * @default {500}
   */
  retryDelayMs?: number;
  /**
   * The `fetch` every HTTP call goes through (a proxy, a test fake, …).
   *
   * @default {globalThis.fetch}
   */
  fetch?: typeof fetch;
  /**
   * Base URL of the accounts service: the token endpoint is
   * `${accountsUrl}/api/token`, the authorize page `${accountsUrl}/authorize`.
   *
   * @default {"https://accounts.spotify.com"}
   */
  accountsUrl?: string;
  /**
   * Time source in milliseconds.
   *
   * @default {Date}
   */
  clock?: Clock;
}

/**
 * Options of a provider's `getAccessToken()`.
 *
 * @example Force a new token
 * ```ts
 * import { ClientCredentials } from "@spotify-sdk/auth";
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * const auth = new ClientCredentials({
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   fetch: server.fetch,
 * });
 * const token = await auth.getAccessToken({
 *   forceRefresh: true,
 *   signal: AbortSignal.timeout(5_000),
 * });
 * ```
 */
export interface GetAccessTokenOptions {
  /**
   * Ignore the cached token and fetch or refresh a new one.
   *
   * @default {false}
   */
  forceRefresh?: boolean;
  /** Stop waiting when this signal aborts (rejects with its reason). */
  signal?: AbortSignal;
}
