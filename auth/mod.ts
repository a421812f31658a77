/**
 * Everything public in `auth/`, re-exported by the package's entry point.
 * The tour that `deno doc` shows lives in `../mod.ts`'s module doc: add new
 * capabilities there.
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
  type RedisLike,
  RedisTokenCache,
  type RedisTokenCacheOptions,
} from "./redis_token_cache.ts";
export {
  type SpotifyApiAccessToken,
  type SpotifyApiAuthStrategy,
  toSpotifyApiAuth,
} from "./spotify_api_auth.ts";
export {
  type AuthProvider,
  type Clock,
  InMemoryTokenCache,
  type TokenCache,
  type TokenCacheLockOptions,
  type TokenInfo,
} from "./token.ts";
export {
  type SignInOptions,
  type SignInResult,
  UserSessions,
  type UserSessionsOptions,
} from "./user_sessions.ts";
