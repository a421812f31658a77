/**
 * Spotify authentication for Deno and TypeScript: client credentials,
 * authorization code (confidential and PKCE), automatic refresh, and
 * pluggable token caches.
 *
 * - {@linkcode ClientCredentials}: app tokens (no user).
 * - {@linkcode AuthorizationCode}: user tokens, confidential or PKCE, with
 *   the authorize URL, callback checks, code exchange and automatic refresh;
 *   {@linkcode authorizeLocal} runs the whole login for a CLI.
 * - Token caches: {@linkcode InMemoryTokenCache} (default),
 *   {@linkcode FileTokenCache} (shares the Python SDK's file format) and
 *   {@linkcode KvTokenCache} (Deno KV, for fleets of processes);
 *   {@linkcode RedisTokenCache} shares one token across machines.
 * - {@linkcode createAuthorizedFetch}: a `fetch` that adds the bearer token,
 *   refreshes once on `401`, waits out short `429` rate limits and retries
 *   passing `5xx` answers of `GET` requests.
 * - {@linkcode toSpotifyApiAuth}: our providers under the official
 *   `@spotify/web-api-ts-sdk`.
 * - {@linkcode UserSessions}: "Sign in with Spotify" for web apps with many
 *   users: cookies, CSRF state, one token per session in Deno KV.
 *
 * Spotify ends every sign-in after 6 months: a dead refresh token is sent
 * once, removed from the cache, reported to `onAuthorizationLost`, and the
 * call rejects with `authorization_required` so the app can ask the user to
 * sign in again ({@linkcode AuthorizationCode.authorizationExpiresAt} warns
 * early, {@linkcode AuthorizationCode.signOut} signs out). Single-page apps
 * use `@spotify-sdk/auth/browser` (PKCE redirect login, one refresh across
 * tabs).
 *
 * Every provider reads missing credentials from `SPOTIFY_SDK_CLIENT_ID`,
 * `SPOTIFY_SDK_CLIENT_SECRET` and `SPOTIFY_SDK_REDIRECT_URI`. Test doubles,
 * including a strict fake of the accounts service, are in
 * `@spotify-sdk/auth/testing`.
 *
 * @example An app token from the fake accounts service
 * ```ts
 * import { ClientCredentials } from "@spotify-sdk/auth";
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * await using auth = new ClientCredentials({
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   fetch: server.fetch, // leave out to talk to accounts.spotify.com
 * });
 * console.log(await auth.getAccessToken());
 * ```
 *
 * @module
 */
export * from "./auth/mod.ts";
