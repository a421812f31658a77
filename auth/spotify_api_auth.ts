/**
 * An auth strategy for the official `@spotify/web-api-ts-sdk`, backed by any
 * of our providers.
 *
 * @module
 */

import { tokenExpiry } from "./_provider_internals.ts";
import { SpotifyAuthError } from "./errors.ts";
import type { AuthProvider } from "./token.ts";

/**
 * An access token in the shape the official SDK's `AccessToken` has.
 *
 * @example What the SDK receives from {@linkcode toSpotifyApiAuth}
 * ```ts
 * import type { SpotifyApiAccessToken } from "@spotify-sdk/auth";
 *
 * const token: SpotifyApiAccessToken = {
 *   access_token: "BQD…",
 *   token_type: "Bearer",
 *   expires_in: 3599,
 *   refresh_token: "", // never handed out
 *   expires: Date.now() + 3_599_000,
 * };
 * ```
 */
export interface SpotifyApiAccessToken {
  /** The bearer token for the Web API. */
  access_token: string;
  /** Always `"Bearer"`. */
  token_type: string;
  /** Whole seconds the token has left, rounded down; `0` when unknown. */
  expires_in: number;
  /** Always `""`: the refresh token stays with the provider. */
  refresh_token: string;
  /** Expiry in Unix milliseconds, when the provider knows it. */
  expires?: number;
}

/**
 * The official SDK's `IAuthStrategy`, described by its shape so that this
 * package needs no dependency on the SDK.
 *
 * @example Hand it to the SDK
 * ```ts
 * import { ClientCredentials, type SpotifyApiAuthStrategy, toSpotifyApiAuth } from "@spotify-sdk/auth";
 *
 * const auth = new ClientCredentials({
 *   clientId: "your-client-id",
 *   clientSecret: "your-client-secret",
 * });
 * const strategy: SpotifyApiAuthStrategy = toSpotifyApiAuth(auth);
 * // new SpotifyApi(strategy) with `npm:@spotify/web-api-ts-sdk`
 * ```
 */
export interface SpotifyApiAuthStrategy {
  /** Accepted and ignored: the provider has its own `fetch` and settings. */
  setConfiguration(configuration: unknown): void;
  /** A valid access token, fetched or refreshed when needed. */
  getOrCreateAccessToken(): Promise<SpotifyApiAccessToken>;
  /** Like `getOrCreateAccessToken()`, but `null` when the user must sign in. */
  getAccessToken(): Promise<SpotifyApiAccessToken | null>;
  /** Starts the provider's `signOut()`, when it has one. */
  removeAccessToken(): void;
}

type SigningOutProvider = AuthProvider & { signOut(): Promise<void> };

function canSignOut(provider: AuthProvider): provider is SigningOutProvider {
  return typeof (provider as Partial<SigningOutProvider>).signOut ===
    "function";
}

// Structural, so an error from another copy of this package (a bundle, a
// second version in node_modules) is recognised too.
function isAuthorizationRequired(error: unknown): boolean {
  return error instanceof Error &&
    (error as { code?: unknown }).code === "authorization_required";
}

/**
 * Adapts a provider to the official SDK's auth strategy interface, so that
 * `new SpotifyApi(toSpotifyApiAuth(auth))` keeps the SDK's endpoint methods
 * while the provider does the tokens: single-flight refresh, shared caches,
 * the client secret on refresh, re-authorization.
 *
 * - `getOrCreateAccessToken()` returns `provider.getAccessToken()` as
 *   `{ access_token, token_type: "Bearer", expires_in, refresh_token: "",
 *   expires }`. For {@linkcode ClientCredentials} and
 *   {@linkcode AuthorizationCode}, `expires` is the token's expiry in
 *   milliseconds and `expires_in` the whole seconds left by the provider's
 *   clock; for any other provider `expires_in` is `0` and `expires` absent.
 *   The refresh token is never handed out.
 * - `getAccessToken()` is the same, but resolves to `null` when the
 *   provider rejects with `authorization_required` (the user must sign in).
 * - `removeAccessToken()` (the SDK's `logOut()`) starts `provider.signOut()`
 *   when the provider has one; a failure is swallowed. Calls made after it
 *   wait for the sign-out and never return the signed-out token.
 * - `setConfiguration()` is ignored.
 *
 * @param provider Where tokens come from.
 * @returns An `IAuthStrategy` for `SpotifyApi`.
 * @throws {TypeError} If `provider` has no `getAccessToken()` method.
 *
 * @example The official SDK with our provider (offline, against the fake)
 * ```ts
 * import { SpotifyApi } from "npm:@spotify/web-api-ts-sdk@1.2.0";
 * import { AuthorizationCode, toSpotifyApiAuth } from "@spotify-sdk/auth";
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * const { refreshToken } = server.issueTokens({ scope: "user-read-private" });
 * await using auth = new AuthorizationCode({
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   redirectUri: "http://127.0.0.1:8080/callback",
 *   refreshToken,
 *   fetch: server.fetch,
 * });
 * // The SDK's own `fetch` option sends its Web API calls to the fake.
 * const sdk = new SpotifyApi(toSpotifyApiAuth(auth), { fetch: server.fetch });
 * const me = await sdk.currentUser.profile();
 * console.log(me.display_name); // "Test User"
 * ```
 *
 * @example What the SDK is given
 * ```ts
 * import { ClientCredentials, toSpotifyApiAuth } from "@spotify-sdk/auth";
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * await using auth = new ClientCredentials({
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   fetch: server.fetch,
 * });
 * const token = await toSpotifyApiAuth(auth).getOrCreateAccessToken();
 * console.log(token.token_type); // "Bearer"
 * console.log(token.expires_in); // 3599: whole seconds left, by the provider's clock
 * console.log(token.refresh_token); // "": the refresh token stays with the provider
 * ```
 */
export function toSpotifyApiAuth(
  provider: AuthProvider,
): SpotifyApiAuthStrategy {
  if (typeof provider?.getAccessToken !== "function") {
    throw new TypeError(
      "toSpotifyApiAuth: pass a provider with getAccessToken(), such as ClientCredentials or AuthorizationCode",
    );
  }
  // Settles (never rejects) once every sign-out started so far is over.
  let signingOut: Promise<void> | undefined;
  // The last token this strategy handed out, and the one that was current
  // when the SDK signed out: a sign-out that failed (a cache that cannot
  // delete) must still not give the SDK its signed-out token back.
  let lastToken: string | undefined;
  let signedOutToken: string | undefined;
  let signOutError: unknown;

  async function current(): Promise<SpotifyApiAccessToken> {
    if (signingOut !== undefined) await signingOut;
    const accessToken = await provider.getAccessToken();
    const expiry = tokenExpiry(provider, accessToken);
    let token: SpotifyApiAccessToken;
    if (expiry !== undefined) {
      const expires = Math.round(expiry.expiresAt * 1000);
      token = {
        access_token: accessToken,
        token_type: "Bearer",
        expires_in: Math.max(0, Math.floor((expires - expiry.nowMs) / 1000)),
        refresh_token: "",
        expires,
      };
    } else {
      token = {
        access_token: accessToken,
        token_type: "Bearer",
        expires_in: 0,
        refresh_token: "",
      };
    }
    if (
      signedOutToken !== undefined && token.access_token === signedOutToken
    ) {
      throw new SpotifyAuthError(
        "authorization_required",
        "The user signed out and the provider could not forget the token: sign the user in again",
        signOutError === undefined ? {} : { cause: signOutError },
      );
    }
    lastToken = token.access_token;
    return token;
  }

  return {
    setConfiguration(_configuration: unknown): void {},
    getOrCreateAccessToken: current,
    async getAccessToken(): Promise<SpotifyApiAccessToken | null> {
      try {
        return await current();
      } catch (error) {
        if (isAuthorizationRequired(error)) return null;
        throw error;
      }
    },
    removeAccessToken(): void {
      if (!canSignOut(provider)) return;
      signedOutToken = lastToken;
      signOutError = undefined;
      let started: Promise<void>;
      try {
        started = Promise.resolve(provider.signOut());
      } catch (error) {
        started = Promise.reject(error);
      }
      const settled = started.then(
        () => {},
        async (error) => {
          // The interface is synchronous: nobody could await this rejection.
          signOutError = error;
          // The provider still holds the token it could not forget: find out
          // which one, so that it is never handed to the SDK again.
          if (signedOutToken === undefined) {
            try {
              signedOutToken = await provider.getAccessToken();
            } catch {
              // No token to hide.
            }
          }
        },
      );
      const previous = signingOut;
      const all = previous === undefined
        ? settled
        : Promise.all([previous, settled]).then(() => {});
      signingOut = all;
      // Back to the fast path once no sign-out is pending.
      all.then(() => {
        if (signingOut === all) signingOut = undefined;
      });
    },
  };
}
