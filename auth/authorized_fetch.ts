/**
 * A `fetch` that authorizes Web API calls with a provider's token.
 *
 * @module
 */

import type { GetAccessTokenOptions } from "./provider_options.ts";
import type { AuthProvider } from "./token.ts";

/**
 * Options of {@linkcode createAuthorizedFetch}.
 *
 * @example Send the Web API calls to a test fake
 * ```ts
 * import {
 *   type AuthorizedFetchOptions,
 *   createAuthorizedFetch,
 * } from "@spotify-sdk/auth";
 * import { FakeAccountsServer, FakeAuthProvider } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * const { accessToken } = server.issueTokens({ scope: "user-read-private" });
 * const options: AuthorizedFetchOptions = { fetch: server.fetch };
 * const spotifyFetch = createAuthorizedFetch(new FakeAuthProvider(accessToken), options);
 * const me = await spotifyFetch("https://api.spotify.com/v1/me");
 * console.log((await me.json()).id); // "test-user"
 * ```
 */
export interface AuthorizedFetchOptions {
  /**
   * The `fetch` that sends the authorized requests.
   *
   * @default {globalThis.fetch}
   */
  fetch?: typeof fetch;
}

type RefreshingProvider = {
  getAccessToken(options?: GetAccessTokenOptions): Promise<string>;
};

/**
 * Wraps `fetch` so that every request carries `Authorization: Bearer …` from
 * `provider`. On a `401`, it forces one refresh and retries once, when the
 * provider hands out a different token (the built-in providers support
 * `forceRefresh`).
 *
 * @param provider Where tokens come from.
 * @param options The underlying `fetch`.
 * @returns A function with the signature of `fetch`.
 *
 * @example Call the Web API with an app token
 * ```ts
 * import { ClientCredentials, createAuthorizedFetch } from "@spotify-sdk/auth";
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * await using auth = new ClientCredentials({
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   fetch: server.fetch,
 * });
 * const spotifyFetch = createAuthorizedFetch(auth, { fetch: server.fetch });
 * const response = await spotifyFetch("https://api.spotify.com/v1/me");
 * console.log(response.status); // 403: app tokens cannot read /v1/me
 * await response.body?.cancel();
 * ```
 */
export function createAuthorizedFetch(
  provider: AuthProvider,
  options: AuthorizedFetchOptions = {},
): typeof fetch {
  const send = options.fetch ?? globalThis.fetch;
  if (typeof provider?.getAccessToken !== "function") {
    throw new TypeError(
      "createAuthorizedFetch: pass a provider with getAccessToken(), such as ClientCredentials or AuthorizationCode",
    );
  }
  const tokens = provider as RefreshingProvider;
  return async (input: RequestInfo | URL, init?: RequestInit) => {
    const request = new Request(input, init);
    // Keep an unread copy of the body in case the request is sent again.
    const retry = request.body === null ? request : request.clone();
    const token = await tokens.getAccessToken({ signal: request.signal });
    const response = await send(authorize(request, token));
    if (response.status !== 401) return response;
    const fresh = await tokens.getAccessToken({
      forceRefresh: true,
      signal: request.signal,
    });
    if (fresh === token) return response;
    await response.body?.cancel();
    return send(authorize(retry, fresh));
  };
}

function authorize(request: Request, token: string): Request {
  const authorized = new Request(request);
  authorized.headers.set("authorization", `Bearer ${token}`);
  return authorized;
}
