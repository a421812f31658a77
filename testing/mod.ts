/**
 * Test doubles for code that uses `@spotify-sdk/auth`:
 *
 * - {@linkcode FakeAccountsServer} — a strict, deterministic fake of
 *   `accounts.spotify.com` (and `GET /v1/me`), in-process or over HTTP;
 * - {@linkcode FakeTokenCache} — a token cache that records its calls;
 * - {@linkcode FakeClock} — a clock that moves only when told to;
 * - {@linkcode FakeAuthProvider} — a provider of fixed tokens.
 *
 * @example Drive an authorization code flow without a browser
 * ```ts
 * import { FakeAccountsServer, FakeClock } from "@spotify-sdk/auth/testing";
 *
 * const clock = new FakeClock();
 * const server = new FakeAccountsServer({ clock });
 * const callback = await server.authorize(
 *   "https://accounts.spotify.com/authorize?response_type=code&client_id=test-client-id" +
 *     "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8888%2Fcallback&state=s1",
 * );
 * const code = new URL(callback).searchParams.get("code")!;
 * const response = await server.fetch("https://accounts.spotify.com/api/token", {
 *   method: "POST",
 *   headers: { authorization: `Basic ${btoa("test-client-id:test-client-secret")}` },
 *   body: new URLSearchParams({
 *     grant_type: "authorization_code",
 *     code,
 *     redirect_uri: "http://127.0.0.1:8888/callback",
 *   }),
 * });
 * const { refresh_token } = await response.json();
 * console.log(refresh_token); // "fake-refresh-1"
 * ```
 *
 * @module
 */

export {
  type FakeAccessTokenInfo,
  FakeAccountsServer,
  type FakeAccountsServerOptions,
  type FakeAuthorizeOptions,
  type FakeClient,
  type FakeConsent,
  type FakeDelayFault,
  type FakeEndpoint,
  type FakeFailNextOptions,
  type FakeFault,
  type FakeFaultEndpoint,
  type FakeIssueTokensOptions,
  type FakeListenOptions,
  type FakeRefreshTokenInfo,
  type FakeRequestRecord,
  type FakeStatusFault,
  type FakeUser,
} from "./fake_accounts_server.ts";
export {
  FakeTokenCache,
  type FakeTokenCacheOptions,
} from "./fake_token_cache.ts";
export { FakeClock } from "./fake_clock.ts";
export {
  FakeAuthProvider,
  type FakeGetAccessTokenOptions,
} from "./fake_auth_provider.ts";
// The core types the doubles implement, so this entry point documents
// itself completely (the same types `@spotify-sdk/auth` exports).
export type {
  AuthProvider,
  Clock,
  TokenCache,
  TokenCacheLockOptions,
  TokenInfo,
} from "../auth/token.ts";
