/**
 * The authorization code flow, confidential or PKCE: user tokens.
 *
 * @module
 */

import { safeEqual } from "./_encoding.ts";
import { resolveOption } from "./_env.ts";
import {
  checkNumberOption,
  checkPkceOptions,
  checkRedirectUriOption,
  describeValue,
} from "./provider_options.ts";
import { resolveEndpointSettings, TokenEndpoint } from "./_token_endpoint.ts";
import { type RefreshSource, TokenLifecycle } from "./_token_lifecycle.ts";
import {
  registerTokenAdopter,
  registerTokenDetails,
} from "./_provider_internals.ts";
import type { AuthorizeLocalOptions } from "./authorize_local.ts";
import { localLogin } from "./_local_login.ts";
import { SpotifyAuthError } from "./errors.ts";
import {
  createCodeChallenge,
  createCodeVerifier,
  createState,
} from "./pkce.ts";
import type {
  GetAccessTokenOptions,
  ProviderOptions,
} from "./provider_options.ts";
import {
  type AuthProvider,
  InMemoryTokenCache,
  type TokenInfo,
} from "./token.ts";

const OWNER = "AuthorizationCode";
// getAuthorizationUrl() remembers this many pending states (oldest dropped).
const MAX_PENDING_STATES = 64;

/**
 * Options of {@linkcode AuthorizationCode}.
 *
 * @example A headless app with a stored refresh token
 * ```ts
 * import {
 *   AuthorizationCode,
 *   type AuthorizationCodeOptions,
 * } from "@spotify-sdk/auth";
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * const options: AuthorizationCodeOptions = {
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   redirectUri: "http://127.0.0.1:8080/callback",
 *   scope: ["user-read-private", "user-read-email"],
 *   refreshToken: server.issueTokens().refreshToken, // saved from an earlier login
 *   fetch: server.fetch,
 * };
 * await using auth = new AuthorizationCode(options);
 * const token = await auth.getAccessToken(); // refreshed, no login needed
 * ```
 */
export interface AuthorizationCodeOptions extends ProviderOptions {
  /**
   * Where Spotify sends the user back; must be registered for the app.
   *
   * @default {env SPOTIFY_SDK_REDIRECT_URI}
   */
  redirectUri?: string;
  /**
   * Scopes to request: a string (space or comma separated) or an array.
   * Normalised to space-separated, without duplicates.
   */
  scope?: string | readonly string[];
  /**
   * A public client: no secret, PKCE S256 instead.
   *
   * @default {false}
   */
  pkce?: boolean;
  /**
   * A stored refresh token, to start a headless app without a login. A newer
   * refresh token in the cache takes precedence.
   */
  refreshToken?: string;
  /**
   * With `refreshToken`: when that authorization was granted (the user's
   * sign-in), as Unix time in seconds. Lets
   * {@linkcode AuthorizationCode.authorizationExpiresAt} answer before the
   * first refresh.
   */
  authorizedAt?: number;
  /**
   * How long a sign-in lasts at Spotify (refresh tokens expire this long
   * after the sign-in; refreshing does not extend it). Used only by
   * {@linkcode AuthorizationCode.authorizationExpiresAt}.
   *
   * @default {15_552_000}
   */
  refreshTokenLifetimeSeconds?: number;
  /**
   * Called once, with the `authorization_required` error the call rejects
   * with, when this instance finds the refresh token dead (expired after 6
   * months, or revoked): the place to tell the user to sign in again. Its
   * errors are ignored.
   */
  onAuthorizationLost?: (error: SpotifyAuthError) => void | Promise<void>;
}

/**
 * Options of {@linkcode AuthorizationCode.getAuthorizationUrl}.
 *
 * @example Ask for more scopes and show the consent page again
 * ```ts
 * import {
 *   AuthorizationCode,
 *   type AuthorizationUrlOptions,
 * } from "@spotify-sdk/auth";
 *
 * const auth = new AuthorizationCode({
 *   clientId: "your-client-id",
 *   redirectUri: "http://127.0.0.1:8080/callback",
 *   pkce: true,
 * });
 * const options: AuthorizationUrlOptions = {
 *   state: "csrf-token",
 *   showDialog: true,
 *   scope: ["user-read-private", "playlist-modify-private"],
 * };
 * const url = new URL(await auth.getAuthorizationUrl(options));
 * console.log(url.searchParams.get("scope")); // "user-read-private playlist-modify-private"
 * ```
 */
export interface AuthorizationUrlOptions {
  /**
   * The CSRF `state` to send and check on the callback.
   *
   * @default {createState()}
   */
  state?: string;
  /**
   * Show Spotify's consent page even if the user approved before.
   *
   * @default {false}
   */
  showDialog?: boolean;
  /** Scopes for this request instead of the provider's `scope`. */
  scope?: string | readonly string[];
  /**
   * Redirect URI for this request instead of the provider's (it must be
   * registered too, and passed again to `exchangeCode`).
   */
  redirectUri?: string;
}

/**
 * What {@linkcode AuthorizationCode.createAuthorizationRequest} returns.
 *
 * @example Keep the request in the session until the callback
 * ```ts
 * import { AuthorizationCode, type AuthorizationRequest } from "@spotify-sdk/auth";
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * await using auth = new AuthorizationCode({
 *   clientId: "test-client-id",
 *   redirectUri: "http://127.0.0.1:8080/callback",
 *   pkce: true,
 *   fetch: server.fetch,
 * });
 * const request: AuthorizationRequest = await auth.createAuthorizationRequest();
 * // Store request.state and request.codeVerifier in the session; redirect to request.url.
 * const callback = await server.authorize(request.url);
 * const code = auth.parseResponseUrl(callback, { expectedState: request.state });
 * await auth.exchangeCode(code, { codeVerifier: request.codeVerifier });
 * ```
 */
export interface AuthorizationRequest {
  /** The authorize URL to send the user to. */
  url: string;
  /** The `state` in the URL; keep it (e.g. in the session) to check the callback. */
  state: string;
  /** With PKCE: the verifier to pass to `exchangeCode`; keep it secret. */
  codeVerifier?: string;
}

/**
 * Options of {@linkcode AuthorizationCode.parseResponseUrl}.
 *
 * @example Reject a forged callback
 * ```ts
 * import {
 *   AuthorizationCode,
 *   type ParseResponseUrlOptions,
 *   SpotifyAuthError,
 * } from "@spotify-sdk/auth";
 *
 * const options: ParseResponseUrlOptions = { expectedState: "state-from-session" };
 * const forged = "http://127.0.0.1:8080/callback?code=AQD123&state=forged";
 * try {
 *   AuthorizationCode.parseResponseUrl(forged, options);
 * } catch (error) {
 *   console.log(error instanceof SpotifyAuthError && error.code); // "state_mismatch"
 * }
 * ```
 */
export interface ParseResponseUrlOptions {
  /**
   * The `state` sent with the authorize URL. Required by the static method;
   * the instance method defaults to the states its own
   * `getAuthorizationUrl()` or `createAuthorizationRequest()` issued.
   */
  expectedState?: string;
}

/**
 * Options of {@linkcode AuthorizationCode.exchangeCode}.
 *
 * @example Exchange with the verifier kept in the session
 * ```ts
 * import { AuthorizationCode, type ExchangeCodeOptions } from "@spotify-sdk/auth";
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * await using auth = new AuthorizationCode({
 *   clientId: "test-client-id",
 *   redirectUri: "http://127.0.0.1:8080/callback",
 *   pkce: true,
 *   fetch: server.fetch,
 * });
 * const { url, state, codeVerifier } = await auth.createAuthorizationRequest();
 * const callback = await server.authorize(url);
 * const code = auth.parseResponseUrl(callback, { expectedState: state });
 * const options: ExchangeCodeOptions = { codeVerifier, signal: AbortSignal.timeout(10_000) };
 * const token = await auth.exchangeCode(code, options);
 * ```
 */
export interface ExchangeCodeOptions {
  /**
   * The PKCE verifier of the authorize request. Optional when this instance
   * created the request with `getAuthorizationUrl()`.
   */
  codeVerifier?: string;
  /** Abort the exchange. */
  signal?: AbortSignal;
  /**
   * The redirect URI used in the authorize request, if it was not the
   * provider's own.
   */
  redirectUri?: string;
}

/**
 * User authorization with the authorization code flow: builds the authorize
 * URL, checks the callback, exchanges the code, and refreshes tokens
 * automatically. With `pkce: true` it is a public client (no secret).
 *
 * Missing `clientId`, `clientSecret` (not with PKCE) and `redirectUri` are read
 * from `SPOTIFY_SDK_CLIENT_ID`, `SPOTIFY_SDK_CLIENT_SECRET` and
 * `SPOTIFY_SDK_REDIRECT_URI`.
 *
 * @example The whole flow against the fake accounts service
 * ```ts
 * import { AuthorizationCode } from "@spotify-sdk/auth";
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * await using auth = new AuthorizationCode({
 *   clientId: "test-client-id",
 *   redirectUri: "http://127.0.0.1:8080/callback",
 *   scope: ["user-read-private", "playlist-read-private"],
 *   pkce: true,
 *   fetch: server.fetch,
 * });
 * const url = await auth.getAuthorizationUrl({ state: "csrf-token" });
 * // Send the user to `url`; Spotify redirects back to the callback:
 * const callback = await server.authorize(url);
 * const code = auth.parseResponseUrl(callback, { expectedState: "csrf-token" });
 * const token = await auth.exchangeCode(code);
 * console.log(token.refreshToken !== undefined); // true
 * const accessToken = await auth.getAccessToken(); // refreshed when needed
 * ```
 */
export class AuthorizationCode implements AuthProvider, AsyncDisposable {
  readonly #clientId: string;
  readonly #redirectUri: string;
  readonly #scope: string | undefined;
  readonly #pkce: boolean;
  readonly #authorizeUrl: string;
  readonly #endpoint: TokenEndpoint;
  readonly #lifecycle: TokenLifecycle;
  readonly #clock: { now(): number };
  readonly #refreshTokenLifetimeSeconds: number;
  /** state → PKCE verifier (or undefined) of requests this instance issued. */
  readonly #pending = new Map<string, string | undefined>();
  #acceptedState: string | undefined;

  /**
   * Creates a provider. No request is made until a code is exchanged or a
   * token is needed.
   *
   * @param options Credentials, redirect URI, scopes, PKCE, cache, timing.
   * @throws {TypeError} If the client ID, secret (without PKCE) or redirect
   * URI is missing from both the options and the environment, or invalid.
   * @throws {RangeError} If a numeric option is out of range.
   */
  constructor(options: AuthorizationCodeOptions = {}) {
    // First: a wrongly typed option is named as such, not as a missing one.
    const settings = resolveEndpointSettings(OWNER, options);
    this.#pkce = checkPkceOptions(OWNER, options);
    this.#clientId = resolveOption(
      OWNER,
      "clientId",
      options.clientId,
      "SPOTIFY_SDK_CLIENT_ID",
    );
    const clientSecret = this.#pkce ? undefined : resolveOption(
      OWNER,
      "clientSecret",
      options.clientSecret,
      "SPOTIFY_SDK_CLIENT_SECRET",
    );
    this.#redirectUri = checkRedirectUriOption(
      OWNER,
      resolveOption(
        OWNER,
        "redirectUri",
        options.redirectUri,
        "SPOTIFY_SDK_REDIRECT_URI",
      ),
      options.redirectUri === undefined,
    );
    this.#scope = normalizeScope(options.scope);
    if (
      options.refreshToken !== undefined &&
      (typeof options.refreshToken !== "string" || options.refreshToken === "")
    ) {
      // Never the value itself: it may be a secret pasted in the wrong place.
      throw new TypeError(
        `${OWNER}: "refreshToken" must be a non-empty string, got ${
          typeof options.refreshToken === "string"
            ? "an empty string"
            : describeValue(options.refreshToken)
        }`,
      );
    }
    checkNumberOption(OWNER, "authorizedAt", options.authorizedAt, {
      unit: "seconds (Unix time of the sign-in)",
      min: 0,
    });
    if (
      options.authorizedAt !== undefined && options.refreshToken === undefined
    ) {
      throw new TypeError(
        `${OWNER}: "authorizedAt" goes with "refreshToken": pass both, or neither`,
      );
    }
    checkNumberOption(
      OWNER,
      "refreshTokenLifetimeSeconds",
      options.refreshTokenLifetimeSeconds,
      { unit: "seconds", min: 0, exclusive: true },
    );
    const lifetime = options.refreshTokenLifetimeSeconds ?? 15_552_000;
    this.#refreshTokenLifetimeSeconds = lifetime;
    if (
      options.onAuthorizationLost !== undefined &&
      typeof options.onAuthorizationLost !== "function"
    ) {
      throw new TypeError(
        `${OWNER}: "onAuthorizationLost" must be a function, got ${
          describeValue(options.onAuthorizationLost)
        }`,
      );
    }
    this.#clock = settings.clock;
    this.#authorizeUrl = `${settings.accountsUrl}/authorize`;
    this.#endpoint = new TokenEndpoint(settings, {
      clientId: this.#clientId,
      clientSecret,
    });
    this.#lifecycle = new TokenLifecycle(
      OWNER,
      options.tokenCache ?? new InMemoryTokenCache(),
      settings.clock,
      options.skewSeconds,
      (source, signal) => this.#refresh(source!, signal),
      {
        ...(options.refreshToken === undefined ? {} : {
          bootstrap: {
            refreshToken: options.refreshToken,
            ...(options.authorizedAt === undefined
              ? {}
              : { authorizedAt: options.authorizedAt }),
          },
        }),
        ...(options.onAuthorizationLost === undefined
          ? {}
          : { onAuthorizationLost: options.onAuthorizationLost }),
      },
    );
    registerTokenDetails(
      this,
      (accessToken) => this.#lifecycle.expiryOf(accessToken),
    );
    registerTokenAdopter(this, async (token) => {
      await this.#lifecycle.obtainAndStore(() => Promise.resolve(token));
    });
  }

  /** The redirect URI this provider uses. */
  get redirectUri(): string {
    return this.#redirectUri;
  }

  /**
   * Builds the URL of Spotify's authorize page. With PKCE, the instance
   * remembers the verifier for the state, so `exchangeCode(code)` needs no
   * verifier.
   *
   * @param options `state`, `showDialog`, and a `scope` for this request.
   * @returns The authorize URL.
   *
   * @example
   * ```ts
   * import { AuthorizationCode } from "@spotify-sdk/auth";
   *
   * const auth = new AuthorizationCode({
   *   clientId: "your-client-id",
   *   clientSecret: "your-client-secret",
   *   redirectUri: "http://127.0.0.1:8080/callback",
   *   scope: "user-read-private",
   * });
   * const url = await auth.getAuthorizationUrl({
   *   state: "csrf-token-generated-by-app",
   *   showDialog: true,
   * });
   * ```
   */
  async getAuthorizationUrl(
    options: AuthorizationUrlOptions = {},
  ): Promise<string> {
    return (await this.createAuthorizationRequest(options)).url;
  }

  /**
   * Builds an authorize URL with a fresh `state` (and, with PKCE, a fresh
   * verifier) for web apps that keep both in the user's session. The
   * instance also remembers the last 64 requests, so a single-user app may
   * leave out `codeVerifier` in `exchangeCode`; a web app serving many users
   * should pass it (and check the state against the user's session).
   *
   * @param options `state`, `showDialog`, and a `scope` for this request.
   * @returns The URL, its state and the PKCE code verifier.
   *
   * @example Keep state and verifier in the session
   * ```ts
   * import { AuthorizationCode } from "@spotify-sdk/auth";
   *
   * const auth = new AuthorizationCode({
   *   clientId: "your-client-id",
   *   redirectUri: "https://example.com/callback",
   *   pkce: true,
   * });
   * const { url, state, codeVerifier } = await auth.createAuthorizationRequest();
   * // session.set({ state, codeVerifier }); redirect to url
   * ```
   */
  async createAuthorizationRequest(
    options: AuthorizationUrlOptions = {},
  ): Promise<AuthorizationRequest> {
    const state = options.state ?? createState();
    if (typeof state !== "string" || state === "") {
      throw new TypeError(`${OWNER}: "state" must be a non-empty string`);
    }
    const redirectUri = options.redirectUri === undefined
      ? this.#redirectUri
      : checkRedirectUri(options.redirectUri);
    const scope = options.scope === undefined
      ? this.#scope
      : normalizeScope(options.scope);
    const params = new URLSearchParams({
      client_id: this.#clientId,
      response_type: "code",
      redirect_uri: redirectUri,
    });
    if (scope !== undefined) params.set("scope", scope);
    params.set("state", state);
    if (options.showDialog === true) params.set("show_dialog", "true");
    let codeVerifier: string | undefined;
    if (this.#pkce) {
      codeVerifier = createCodeVerifier();
      params.set("code_challenge_method", "S256");
      params.set("code_challenge", await createCodeChallenge(codeVerifier));
    }
    const url = `${this.#authorizeUrl}?${params}`;
    this.#pending.delete(state);
    this.#pending.set(state, codeVerifier);
    if (this.#pending.size > MAX_PENDING_STATES) {
      this.#pending.delete(this.#pending.keys().next().value!);
    }
    return codeVerifier === undefined
      ? { url, state }
      : { url, state, codeVerifier };
  }

  /**
   * Checks a callback URL and returns its authorization code. The state is
   * checked first (a forged callback is not believed, not even its `error`),
   * then `error`, then the code.
   *
   * @param url The callback URL Spotify redirected to.
   * @param options.expectedState The state sent with the authorize URL.
   * @returns The authorization code.
   * @throws {SpotifyAuthError} `state_mismatch`, `access_denied` (or the
   * callback's other `error`), or `missing_code`.
   * @throws {TypeError} If `url` is not a URL or `expectedState` is missing.
   *
   * @example
   * ```ts
   * import { AuthorizationCode } from "@spotify-sdk/auth";
   *
   * const code = AuthorizationCode.parseResponseUrl(
   *   "http://127.0.0.1:8080/callback?code=AQD123&state=abc",
   *   { expectedState: "abc" },
   * );
   * console.log(code); // "AQD123"
   * ```
   */
  static parseResponseUrl(
    url: string | URL,
    options: ParseResponseUrlOptions,
  ): string {
    const expectedState = options?.expectedState;
    if (typeof expectedState !== "string" || expectedState === "") {
      throw new TypeError(
        `${OWNER}.parseResponseUrl: pass { expectedState } with the state of the authorize URL`,
      );
    }
    return parseCallback(url, (state) => safeEqual(state, expectedState));
  }

  /**
   * Checks a callback URL and returns its authorization code; without
   * `expectedState`, the state must be one that this instance's
   * `getAuthorizationUrl()` or `createAuthorizationRequest()` issued.
   *
   * @param url The callback URL Spotify redirected to.
   * @param options.expectedState The state sent with the authorize URL.
   * @returns The authorization code.
   * @throws {SpotifyAuthError} `state_mismatch`, `access_denied` (or the
   * callback's other `error`), or `missing_code`.
   *
   * @example
   * ```ts
   * import { AuthorizationCode } from "@spotify-sdk/auth";
   *
   * const auth = new AuthorizationCode({
   *   clientId: "your-client-id",
   *   clientSecret: "your-client-secret",
   *   redirectUri: "http://127.0.0.1:8080/callback",
   * });
   * const code = auth.parseResponseUrl(
   *   "http://127.0.0.1:8080/callback?code=AQD123&state=abc",
   *   { expectedState: "abc" },
   * );
   * ```
   */
  parseResponseUrl(
    url: string | URL,
    options: ParseResponseUrlOptions = {},
  ): string {
    const expected = options.expectedState;
    let accepted: string | undefined;
    const code = parseCallback(url, (state) => {
      if (expected !== undefined) {
        if (safeEqual(state, expected)) accepted = expected;
      } else {
        for (const pending of this.#pending.keys()) {
          if (safeEqual(state, pending)) accepted = pending;
        }
      }
      return accepted !== undefined;
    });
    this.#acceptedState = accepted;
    return code;
  }

  /**
   * Exchanges an authorization code for tokens and stores them in the cache.
   *
   * @param code The code from `parseResponseUrl`.
   * @param options PKCE `codeVerifier`, abort `signal`, `redirectUri`.
   * @returns The new token, with its refresh token.
   * @throws {SpotifyAuthError} `invalid_grant` and other OAuth errors,
   * `invalid_response` (e.g. no refresh token), network errors.
   * @throws {TypeError} With PKCE, when the verifier is not given and cannot
   * be told from the requests this instance issued.
   *
   * @example
   * ```ts
   * import { AuthorizationCode } from "@spotify-sdk/auth";
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * const server = new FakeAccountsServer();
   * const auth = new AuthorizationCode({
   *   clientId: "test-client-id",
   *   clientSecret: "test-client-secret",
   *   redirectUri: "http://127.0.0.1/callback",
   *   fetch: server.fetch,
   * });
   * const { url, state } = await auth.createAuthorizationRequest();
   * const code = auth.parseResponseUrl(await server.authorize(url), {
   *   expectedState: state,
   * });
   * const token = await auth.exchangeCode(code);
   * ```
   */
  async exchangeCode(
    code: string,
    options: ExchangeCodeOptions = {},
  ): Promise<TokenInfo> {
    this.#lifecycle.assertOpen();
    if (typeof code !== "string" || code === "") {
      throw new TypeError(
        `${OWNER}.exchangeCode: "code" must be the non-empty code from parseResponseUrl()`,
      );
    }
    const grant: Record<string, string> = {
      grant_type: "authorization_code",
      code,
      redirect_uri: options.redirectUri === undefined
        ? this.#redirectUri
        : checkRedirectUri(options.redirectUri),
    };
    let pendingState: string | undefined;
    if (this.#pkce) {
      let verifier = options.codeVerifier;
      if (verifier === undefined) {
        pendingState = this.#pendingStateForExchange();
        verifier = pendingState === undefined
          ? undefined
          : this.#pending.get(pendingState);
      }
      if (verifier === undefined) {
        throw new TypeError(
          `${OWNER}.exchangeCode: pass { codeVerifier } from createAuthorizationRequest(): this instance cannot tell which authorize request the code belongs to`,
        );
      }
      grant.code_verifier = verifier;
    }
    const token = await this.#lifecycle.obtainAndStore(async (signal) => {
      const token = await this.#endpoint.request(grant, signal);
      if (token.refreshToken === undefined) {
        throw new SpotifyAuthError(
          "invalid_response",
          "The Spotify token endpoint sent no refresh_token for an authorization code",
        );
      }
      // A code exchange is the user's sign-in: the 6 months start now.
      return { ...token, authorizedAt: this.#clock.now() / 1000 };
    }, options.signal);
    // A verifier is forgotten once its exchange succeeds.
    for (const [state, verifier] of this.#pending) {
      if (
        state === pendingState ||
        (verifier !== undefined && verifier === grant.code_verifier)
      ) {
        this.#pending.delete(state);
      }
    }
    return token;
  }

  #pendingStateForExchange(): string | undefined {
    if (
      this.#acceptedState !== undefined &&
      this.#pending.has(this.#acceptedState)
    ) {
      return this.#acceptedState;
    }
    return this.#pending.size === 1
      ? this.#pending.keys().next().value
      : undefined;
  }

  /**
   * Runs the whole login for a CLI: a loopback server, the browser, the
   * callback, the exchange. Same as `authorizeLocal(auth, options)`.
   *
   * @param options Browser, timeout, abort and dialog options.
   * @returns The new token.
   *
   * @example
   * ```ts ignore
   * import { AuthorizationCode } from "@spotify-sdk/auth";
   *
   * const auth = new AuthorizationCode({ scope: "user-read-private" });
   * const token = await auth.authorizeLocal();
   * console.log(token.refreshToken);
   * ```
   */
  authorizeLocal(options?: AuthorizeLocalOptions): Promise<TokenInfo> {
    return localLogin(this, options);
  }

  /**
   * Returns a valid user access token: the cached one while fresh, else a
   * refreshed one. Concurrent callers share one request.
   *
   * @param options `forceRefresh` and an abort `signal`.
   * @returns The access token.
   * @throws {SpotifyAuthError} `authorization_required` when there is no
   * token and no refresh token; `invalid_grant` for a revoked refresh token;
   * network and HTTP errors.
   */
  getAccessToken(options?: GetAccessTokenOptions): Promise<string> {
    return this.#lifecycle.getAccessToken(options);
  }

  /**
   * When the current user's sign-in expires at Spotify: `authorizedAt +
   * refreshTokenLifetimeSeconds` of the current token (in memory, else in the
   * cache, else the `refreshToken` + `authorizedAt` options). Makes no
   * request. Use it to ask the user to sign in again before the deadline.
   *
   * @returns Unix time in seconds, or `undefined` when there is no user
   * token or its sign-in time is unknown.
   * @throws {TypeError} After `close()`.
   * @throws {unknown} What the cache's `get()` throws.
   *
   * @example Warn a week before the user must sign in again
   * ```ts
   * import { AuthorizationCode } from "@spotify-sdk/auth";
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * const server = new FakeAccountsServer();
   * await using auth = new AuthorizationCode({
   *   clientId: "test-client-id",
   *   clientSecret: "test-client-secret",
   *   redirectUri: "http://127.0.0.1/callback",
   *   fetch: server.fetch,
   * });
   * const { url, state } = await auth.createAuthorizationRequest();
   * await auth.exchangeCode(
   *   auth.parseResponseUrl(await server.authorize(url), { expectedState: state }),
   * );
   * const expiresAt = await auth.authorizationExpiresAt();
   * const daysLeft = (expiresAt! - Date.now() / 1000) / 86_400;
   * if (daysLeft < 7) console.log("Please sign in with Spotify again soon");
   * ```
   */
  async authorizationExpiresAt(): Promise<number | undefined> {
    const token = await this.#lifecycle.peekToken();
    if (token?.refreshToken === undefined || token.authorizedAt === undefined) {
      return undefined;
    }
    return token.authorizedAt + this.#refreshTokenLifetimeSeconds;
  }

  /**
   * Signs the user out: aborts a refresh in flight, forgets the token in
   * memory and removes it from the cache. Spotify has no revocation
   * endpoint, so nothing is sent. Afterwards `getAccessToken()` rejects with
   * `authorization_required` without a request, until the user signs in
   * again on this instance (`exchangeCode()`, `authorizeLocal()`).
   *
   * @returns A promise that settles once the cache no longer holds the token.
   * @throws {TypeError} When the cache has no `delete()` method (the message
   * names the cache), or after `close()`.
   * @throws {unknown} What the cache's `delete()` throws.
   *
   * @example
   * ```ts
   * import { AuthorizationCode, SpotifyAuthError } from "@spotify-sdk/auth";
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * const server = new FakeAccountsServer();
   * await using auth = new AuthorizationCode({
   *   clientId: "test-client-id",
   *   clientSecret: "test-client-secret",
   *   redirectUri: "http://127.0.0.1/callback",
   *   fetch: server.fetch,
   * });
   * const { url, state } = await auth.createAuthorizationRequest();
   * await auth.exchangeCode(
   *   auth.parseResponseUrl(await server.authorize(url), { expectedState: state }),
   * );
   * await auth.signOut();
   * try {
   *   await auth.getAccessToken();
   * } catch (error) {
   *   console.log((error as SpotifyAuthError).code); // "authorization_required"
   * }
   * ```
   */
  signOut(): Promise<void> {
    return this.#lifecycle.signOut();
  }

  /**
   * Stops any request in flight; later calls reject.
   *
   * @returns A promise that settles once everything is released.
   */
  close(): Promise<void> {
    return this.#lifecycle.close();
  }

  /**
   * Same as {@linkcode AuthorizationCode.close}, for `await using`.
   *
   * @returns A promise that settles once everything is released.
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /** A refresh grant; the lifecycle always hands over a refresh token. */
  async #refresh(
    source: RefreshSource,
    signal: AbortSignal,
  ): Promise<TokenInfo> {
    const refreshToken = source.refreshToken!;
    const token = await this.#endpoint.request(
      { grant_type: "refresh_token", refresh_token: refreshToken },
      signal,
    );
    const scope = token.scope ?? source.scope;
    // A refresh is not a sign-in: the sign-in time carries over.
    return {
      ...token,
      refreshToken: token.refreshToken ?? refreshToken,
      ...(scope === undefined ? {} : { scope }),
      ...(source.authorizedAt === undefined
        ? {}
        : { authorizedAt: source.authorizedAt }),
    };
  }
}

/** A per-request redirect URI gets the same checks as the option. */
function checkRedirectUri(redirectUri: string): string {
  if (typeof redirectUri !== "string") {
    throw new TypeError(
      `${OWNER}: "redirectUri" must be an absolute URL registered for your app, such as "http://127.0.0.1:8080/callback", got ${
        describeValue(redirectUri)
      }`,
    );
  }
  return checkRedirectUriOption(OWNER, redirectUri, false);
}

/** Normalises scopes to space-separated, without duplicates. */
function normalizeScope(
  scope: string | readonly string[] | undefined,
): string | undefined {
  if (scope === undefined) return undefined;
  const parts = typeof scope === "string" ? [scope] : scope;
  if (!Array.isArray(parts) || parts.some((part) => typeof part !== "string")) {
    throw new TypeError(
      `${OWNER}: "scope" must be a string or an array of strings, got ${
        describeValue(scope)
      }`,
    );
  }
  const scopes = new Set(
    parts.flatMap((part) => part.split(/[\s,]+/)).filter((part) => part !== ""),
  );
  return [...scopes].join(" ");
}

function parseCallback(
  url: string | URL,
  stateMatches: (state: string) => boolean,
): string {
  let params: URLSearchParams;
  try {
    params = new URL(url).searchParams;
  } catch {
    throw new TypeError(
      `${OWNER}.parseResponseUrl: pass the full callback URL, e.g. "http://127.0.0.1:8080/callback?code=...&state=..."`,
    );
  }
  const state = params.get("state");
  if (state === null || !stateMatches(state)) {
    throw new SpotifyAuthError(
      "state_mismatch",
      state === null
        ? "The callback has no state: it may be forged, start the login again"
        : "The callback's state does not match the authorize request: it may be forged, start the login again",
    );
  }
  const error = params.get("error");
  if (error !== null) {
    const description = params.get("error_description") ?? undefined;
    const code = /^[\x21-\x7e]{1,64}$/.test(error) ? error : "invalid_request";
    throw new SpotifyAuthError(
      code,
      code === "access_denied"
        ? "The user did not authorize the app (access_denied)"
        : `Spotify returned an authorization error: ${code}`,
      description === undefined ? {} : { description },
    );
  }
  const code = params.get("code");
  if (code === null || code === "") {
    throw new SpotifyAuthError(
      "missing_code",
      "The callback has neither a code nor an error",
    );
  }
  return code;
}
