/**
 * Spotify sign-in for single-page apps (PKCE, no client secret), in the
 * browser's own storage:
 *
 * - {@linkcode startBrowserLogin}: keeps a state and code verifier in
 *   `sessionStorage` and sends the user to Spotify;
 * - {@linkcode completeBrowserLogin}: on the redirect page, checks the
 *   state, exchanges the code once (also under React StrictMode), and
 *   cleans the address bar;
 * - {@linkcode WebStorageTokenCache}: the token in `localStorage`, with one
 *   refresh across tabs through `navigator.locks`.
 *
 * Browser globals (`location`, `history`, `sessionStorage`, `localStorage`,
 * `navigator.locks`) are read only when the matching option is left out, so
 * the same code runs (and is tested) in Deno.
 *
 * @example The whole sign-in, with the browser's parts passed in
 * ```ts
 * import { AuthorizationCode } from "@spotify-sdk/auth";
 * import { completeBrowserLogin, startBrowserLogin } from "@spotify-sdk/auth/browser";
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer({
 *   clients: [{ clientId: "spa", redirectUris: ["http://127.0.0.1/callback"] }],
 * });
 * const auth = new AuthorizationCode({
 *   clientId: "spa",
 *   redirectUri: "http://127.0.0.1:8080/callback",
 *   pkce: true,
 *   fetch: server.fetch, // leave out in a real app
 * });
 *
 * // The "Log in" button (in a browser: `startBrowserLogin(auth)`).
 * let authorizeUrl = "";
 * await startBrowserLogin(auth, {
 *   storage: sessionStorage,
 *   assign: (url) => {
 *     authorizeUrl = url;
 *   },
 * });
 *
 * // Spotify redirects back; the page calls, on every load:
 * const token = await completeBrowserLogin(auth, {
 *   url: await server.authorize(authorizeUrl),
 *   storage: sessionStorage,
 *   replaceState: (url) => console.log("address bar:", url),
 * });
 * console.log(token?.scope, await auth.getAccessToken());
 * ```
 *
 * @module
 */

export {
  completeBrowserLogin,
  type CompleteBrowserLoginOptions,
  startBrowserLogin,
  type StartBrowserLoginOptions,
} from "./browser_login.ts";
export {
  type LockManagerLike,
  type LockRequestOptionsLike,
  type StorageLike,
  WebStorageTokenCache,
  type WebStorageTokenCacheOptions,
} from "./web_storage_token_cache.ts";
