/**
 * Spotify authentication for Deno and TypeScript.
 *
 * - {@linkcode ClientCredentials}: app tokens (no user).
 * - {@linkcode AuthorizationCode}: user tokens, confidential or PKCE, with
 *   the authorize URL, callback checks, code exchange and automatic refresh;
 *   {@linkcode authorizeLocal} runs the whole login for a CLI.
 * - Token caches: {@linkcode InMemoryTokenCache} (default),
 *   {@linkcode FileTokenCache} (shares the Python SDK's file format) and
 *   {@linkcode KvTokenCache} (Deno KV, for fleets of processes).
 * - {@linkcode createAuthorizedFetch}: a `fetch` that adds the bearer token
 *   and retries once after a refresh on `401`.
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

export {
  AuthorizationCode,
  type AuthorizationCodeOptions,
  type AuthorizationRequest,
  type AuthorizationUrlOptions,
  type ExchangeCodeOptions,
  type ParseResponseUrlOptions,
} from "./authorization_code.ts";
export {
  authorizeLocal,
  type AuthorizeLocalOptions,
} from "./authorize_local.ts";
export {
  type AuthorizedFetchOptions,
  createAuthorizedFetch,
} from "./authorized_fetch.ts";
export {
  ClientCredentials,
  type ClientCredentialsOptions,
} from "./client_credentials.ts";
export { SpotifyAuthError, type SpotifyAuthErrorOptions } from "./errors.ts";
export {
  FileTokenCache,
  type FileTokenCacheOptions,
} from "./file_token_cache.ts";
export {
  type KvAtomicOperationLike,
  type KvKeyLike,
  type KvLike,
  KvTokenCache,
  type KvTokenCacheOptions,
} from "./kv_token_cache.ts";
export {
  createCodeChallenge,
  createCodeVerifier,
  createState,
} from "./pkce.ts";
export type {
  GetAccessTokenOptions,
  ProviderOptions,
} from "./provider_options.ts";
export {
  type AuthProvider,
  type Clock,
  InMemoryTokenCache,
  type TokenCache,
  type TokenCacheLockOptions,
  type TokenInfo,
} from "./token.ts";
