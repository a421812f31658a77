/**
 * Spotify authentication for Deno and TypeScript: client credentials,
 * authorization code (confidential and PKCE), automatic refresh, and
 * pluggable token caches. See `./auth/mod.ts` for the full tour.
 *
 * @example Get an app token
 * ```ts
 * import { ClientCredentials } from "@spotify-sdk/auth";
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * // Leave out `fetch` (and pass your credentials, or set
 * // SPOTIFY_SDK_CLIENT_ID / SPOTIFY_SDK_CLIENT_SECRET) to talk to Spotify.
 * const server = new FakeAccountsServer();
 * await using auth = new ClientCredentials({
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   fetch: server.fetch,
 * });
 * const token = await auth.getAccessToken();
 * ```
 *
 * @module
 */
export * from "./auth/mod.ts";
