/**
 * The client credentials flow: app tokens for endpoints without user data.
 *
 * @module
 */

import { resolveOption } from "./_env.ts";
import { resolveEndpointSettings, TokenEndpoint } from "./_token_endpoint.ts";
import { TokenLifecycle } from "./_token_lifecycle.ts";
import { registerTokenDetails } from "./_provider_internals.ts";
import type {
  GetAccessTokenOptions,
  ProviderOptions,
} from "./provider_options.ts";
import { type AuthProvider, InMemoryTokenCache } from "./token.ts";

/**
 * Options of {@linkcode ClientCredentials}: the common provider options.
 *
 * @example A provider with its own cache and timing
 * ```ts
 * import {
 *   ClientCredentials,
 *   type ClientCredentialsOptions,
 * } from "@spotify-sdk/auth";
 * import { FakeAccountsServer, FakeTokenCache } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * const tokenCache = new FakeTokenCache();
 * const options: ClientCredentialsOptions = {
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   tokenCache,
 *   skewSeconds: 60,
 *   timeoutMs: 5_000,
 *   fetch: server.fetch,
 * };
 * await using auth = new ClientCredentials(options);
 * await auth.getAccessToken();
 * console.log(tokenCache.sets); // 1
 * ```
 */
export type ClientCredentialsOptions = ProviderOptions;

/**
 * Fetches and refreshes app access tokens with the client credentials grant
 * (HTTP Basic client authentication).
 *
 * App tokens cannot call user endpoints such as `/v1/me`: use
 * {@linkcode AuthorizationCode} for those.
 *
 * Missing `clientId` / `clientSecret` are read from `SPOTIFY_SDK_CLIENT_ID` /
 * `SPOTIFY_SDK_CLIENT_SECRET` (needs `--allow-env`).
 *
 * @example Against the fake accounts service (swap in real credentials for Spotify)
 * ```ts
 * import { ClientCredentials } from "@spotify-sdk/auth";
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * await using auth = new ClientCredentials({
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   fetch: server.fetch,
 * });
 * const token = await auth.getAccessToken();
 * console.log(token); // "fake-access-1"
 * ```
 */
export class ClientCredentials implements AuthProvider, AsyncDisposable {
  readonly #lifecycle: TokenLifecycle;

  /**
   * Creates a provider. No request is made until the first
   * `getAccessToken()`.
   *
   * @param options Credentials, cache, timing and transport options.
   * @throws {TypeError} If the client ID or secret is missing from both the
   * options and the environment, or an option has the wrong type (the
   * message shows the value and its type, e.g. `"timeoutMs" must be a number
   * of milliseconds > 0, got the string "1000"`; `tokenCache` needs `get()`
   * and `set()`).
   * @throws {RangeError} If a numeric option is out of range.
   */
  constructor(options: ClientCredentialsOptions = {}) {
    const owner = "ClientCredentials";
    // First: a wrongly typed option is named as such, not as a missing one.
    const settings = resolveEndpointSettings(owner, options);
    const clientId = resolveOption(
      owner,
      "clientId",
      options.clientId,
      "SPOTIFY_SDK_CLIENT_ID",
    );
    const clientSecret = resolveOption(
      owner,
      "clientSecret",
      options.clientSecret,
      "SPOTIFY_SDK_CLIENT_SECRET",
    );
    const endpoint = new TokenEndpoint(settings, { clientId, clientSecret });
    this.#lifecycle = new TokenLifecycle(
      owner,
      options.tokenCache ?? new InMemoryTokenCache(),
      settings.clock,
      options.skewSeconds,
      (_stale, signal) =>
        endpoint.request({ grant_type: "client_credentials" }, signal),
    );
    registerTokenDetails(
      this,
      (accessToken) => this.#lifecycle.expiryOf(accessToken),
    );
  }

  /**
   * Returns a valid app access token: the cached one while it is fresh, else
   * a new one. Concurrent callers share one request.
   *
   * @param options `forceRefresh` and an abort `signal`.
   * @returns The access token.
   * @throws {SpotifyAuthError} When Spotify refuses the request or cannot be
   * reached after retries.
   * @throws {Deno.errors.NotCapable} At once, without retrying, when Deno
   * lacks `--allow-net` for the accounts host.
   * @throws {TypeError} After `close()`.
   */
  getAccessToken(options?: GetAccessTokenOptions): Promise<string> {
    return this.#lifecycle.getAccessToken(options);
  }

  /**
   * Stops any request in flight; later calls to `getAccessToken()` reject.
   *
   * @returns A promise that settles once everything is released.
   */
  close(): Promise<void> {
    return this.#lifecycle.close();
  }

  /**
   * Same as {@linkcode ClientCredentials.close}, for `await using`.
   *
   * @returns A promise that settles once everything is released.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
