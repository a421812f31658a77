/**
 * "Sign in with Spotify" for web apps with many users: cookies, CSRF state,
 * one token per session in Deno KV, refreshed once per expiry across a
 * fleet, and sessions that end when Spotify's 6-month sign-in runs out.
 *
 * @module
 */

import { isCookieName, readCookie, setCookie } from "./_cookies.ts";
import { resolveOption } from "./_env.ts";
import { safeEqual } from "./_encoding.ts";
import { retryBusy } from "./_kv_busy.ts";
import { SessionProviders } from "./_sessions_providers.ts";
import {
  expiringKv,
  isRandomId,
  pendingFromValue,
  type PendingSignIn,
  sessionFromValue,
  type SessionRecord,
  SIGN_IN_TTL_MS,
} from "./_sessions_store.ts";
import {
  AuthorizationCode,
  type AuthorizationCodeOptions,
} from "./authorization_code.ts";
import { SpotifyAuthError } from "./errors.ts";
import { type KvKeyLike, type KvLike, KvTokenCache } from "./kv_token_cache.ts";
import { createState } from "./pkce.ts";
import {
  checkNumberOption,
  describeValue,
  type GetAccessTokenOptions,
} from "./provider_options.ts";
import type { Clock, TokenInfo } from "./token.ts";

const OWNER = "UserSessions";
const DEFAULT_SESSION_TTL_SECONDS = 15_552_000;
const DEFAULT_MAX_CACHED_SESSIONS = 1000;

/**
 * Options of {@linkcode UserSessions}: those of
 * {@linkcode AuthorizationCode} (confidential or `pkce`), except the ones
 * about a single user's token, plus where sessions live and how their
 * cookies look.
 *
 * @example A PKCE app behind a TLS-terminating proxy
 * ```ts
 * import { UserSessions, type UserSessionsOptions } from "@spotify-sdk/auth";
 *
 * using kv = await Deno.openKv(":memory:");
 * const options: UserSessionsOptions = {
 *   kv,
 *   clientId: "your-client-id",
 *   pkce: true,
 *   redirectUri: "https://example.com/callback",
 *   scope: ["user-read-private", "playlist-read-private"],
 *   keyPrefix: ["my-app", "spotify"],
 *   secureCookies: true, // the app itself only sees http from the proxy
 *   successUrl: "/home",
 * };
 * await using sessions = new UserSessions(options);
 * ```
 */
export interface UserSessionsOptions extends
  Omit<
    AuthorizationCodeOptions,
    "tokenCache" | "refreshToken" | "authorizedAt" | "onAuthorizationLost"
  > {
  /**
   * Where sessions, their tokens and pending sign-ins live: a `Deno.Kv`
   * (`await Deno.openKv()`, which needs `--unstable-kv`, or Deno Deploy's
   * KV). Every process of the app opens the same one. It belongs to the
   * caller: {@linkcode UserSessions.close} leaves it open.
   */
  kv: KvLike;
  /**
   * The first parts of every key written: `[...keyPrefix, "session", id]`,
   * `[...keyPrefix, "token", id]` and `[...keyPrefix, "signin", state]`.
   *
   * @default {["spotify-sdk"]}
   */
  keyPrefix?: KvKeyLike;
  /**
   * The session cookie's name; the pending sign-in's cookie is this name
   * with `_signin` appended.
   *
   * @default {"spotify_session"}
   */
  cookieName?: string;
  /**
   * How long a session lasts from sign-in: the session cookie's `Max-Age`
   * and the session's KV `expireIn`. Spotify ends a sign-in after 6 months
   * anyway.
   *
   * @default {15_552_000}
   */
  sessionTtlSeconds?: number;
  /**
   * Where the browser goes after signing in: a path on this site (such as
   * `"/home"`), never another origin.
   *
   * @default {"/"}
   */
  successUrl?: string;
  /**
   * Mark cookies `Secure`: `"auto"` when the request URL is `https`; `true`
   * behind a proxy that terminates TLS (the app then sees `http`).
   *
   * @default {"auto"}
   */
  secureCookies?: "auto" | boolean;
  /**
   * How many sessions keep their provider (and token) in memory. Tokens
   * live in KV, so memory stays bounded however many users sign in.
   *
   * @default {1000}
   */
  maxCachedSessions?: number;
  /**
   * Called once when a session's refresh token turns out dead (the 6 months
   * ran out, or the user revoked the app), after the session was removed.
   * `error` is the `authorization_required` error the call rejects with,
   * its `cause` the `invalid_grant`. Errors it throws are ignored.
   */
  onAuthorizationLost?: (
    error: SpotifyAuthError,
    sessionId: string,
  ) => void | Promise<void>;
}

/**
 * Options of {@linkcode UserSessions.signIn}.
 *
 * @example Ask for another scope and come back to the page the user was on
 * ```ts
 * import { type SignInOptions, UserSessions } from "@spotify-sdk/auth";
 *
 * using kv = await Deno.openKv(":memory:");
 * await using sessions = new UserSessions({
 *   kv,
 *   clientId: "your-client-id",
 *   pkce: true,
 *   redirectUri: "http://127.0.0.1:8080/callback",
 * });
 * const options: SignInOptions = {
 *   successUrl: "/playlists",
 *   scope: "playlist-modify-private",
 *   showDialog: true,
 * };
 * const response = await sessions.signIn(
 *   new Request("http://127.0.0.1:8080/login"),
 *   options,
 * );
 * console.log(response.status); // 302
 * ```
 */
export interface SignInOptions {
  /**
   * Where the browser goes after this sign-in: a path on this site.
   *
   * @default {the successUrl option}
   */
  successUrl?: string;
  /** Scopes for this sign-in instead of the `scope` option. */
  scope?: string | readonly string[];
  /**
   * Show Spotify's consent page even if the user approved before.
   *
   * @default {false}
   */
  showDialog?: boolean;
}

/**
 * What {@linkcode UserSessions.handleCallback} returns.
 *
 * @example Send the response, keep the id for a log line
 * ```ts
 * import type { SignInResult } from "@spotify-sdk/auth";
 *
 * function finish(result: SignInResult): Response {
 *   console.log(`session ${result.sessionId.slice(0, 6)}… signed in`);
 *   return result.response;
 * }
 * ```
 */
export interface SignInResult {
  /** `302` to the success URL, setting the session cookie. */
  response: Response;
  /** The new session's id (also in the cookie). */
  sessionId: string;
  /** The session's first token, as the code exchange returned it. */
  token: TokenInfo;
}

/**
 * "Sign in with Spotify" for server apps where many people sign in:
 * Deno.serve, Hono (`c.req.raw`), Fresh, Oak — anything with web-standard
 * `Request` and `Response`.
 *
 * - {@linkcode UserSessions.signIn} answers `302` to Spotify, with a
 *   single-use `state` kept in KV for 10 minutes and bound to the browser by
 *   a cookie (login CSRF, session fixation).
 * - {@linkcode UserSessions.handleCallback} checks the state, exchanges the
 *   code, stores the token in KV under a new session id (32 random bytes)
 *   and sets the session cookie: `HttpOnly; SameSite=Lax; Path=/`, `Secure`
 *   on https. No token ever goes into a cookie, URL or page.
 * - {@linkcode UserSessions.getAccessToken} gives the session's token,
 *   refreshed once per expiry: single-flight per session in the process and
 *   a KV lock across processes. One user's slow refresh never delays
 *   another's; at most `maxCachedSessions` tokens are kept in memory.
 * - {@linkcode UserSessions.signOut} removes the session and its token.
 *
 * @example Routes of a web app, driven here with the fake accounts service
 * ```ts
 * import { UserSessions } from "@spotify-sdk/auth";
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * using kv = await Deno.openKv(":memory:");
 * await using sessions = new UserSessions({
 *   kv,
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   redirectUri: "http://127.0.0.1/callback",
 *   scope: "user-read-private",
 *   fetch: server.fetch, // leave out to talk to accounts.spotify.com
 * });
 *
 * async function handler(request: Request): Promise<Response> {
 *   switch (new URL(request.url).pathname) {
 *     case "/login":
 *       return await sessions.signIn(request);
 *     case "/callback":
 *       return (await sessions.handleCallback(request)).response;
 *     case "/logout":
 *       return await sessions.signOut(request);
 *     default: {
 *       const token = await sessions.getAccessToken(request);
 *       const me = await server.fetch("https://api.spotify.com/v1/me", {
 *         headers: { authorization: `Bearer ${token}` },
 *       });
 *       return new Response(`Hello, ${(await me.json()).display_name}`);
 *     }
 *   }
 * }
 *
 * // The browser: /login → Spotify → /callback → / with the session cookie.
 * const login = await handler(new Request("http://127.0.0.1/login"));
 * const signInCookie = login.headers.getSetCookie()[0].split(";")[0];
 * const callbackUrl = await server.authorize(login.headers.get("location")!);
 * const callback = await handler(
 *   new Request(callbackUrl, { headers: { cookie: signInCookie } }),
 * );
 * const sessionCookie = callback.headers.getSetCookie()[0].split(";")[0];
 * const home = await handler(
 *   new Request("http://127.0.0.1/", { headers: { cookie: sessionCookie } }),
 * );
 * console.log(await home.text()); // "Hello, Test User"
 * ```
 */
export class UserSessions implements AsyncDisposable {
  readonly #kv: KvLike;
  readonly #keyPrefix: KvKeyLike;
  readonly #cookieName: string;
  readonly #signInCookieName: string;
  readonly #sessionTtlMs: number;
  readonly #successUrl: string;
  readonly #secureCookies: "auto" | boolean;
  readonly #clock: Clock;
  readonly #providerOptions: AuthorizationCodeOptions;
  readonly #onAuthorizationLost: UserSessionsOptions["onAuthorizationLost"];
  /** Builds authorize URLs; never holds a token. */
  readonly #signInProvider: AuthorizationCode;
  readonly #providers: SessionProviders;
  /** Providers of sessions being created by a callback (close() ends them). */
  readonly #signingIn = new Set<AuthorizationCode>();
  /** Sessions being removed right now, by id. */
  readonly #ending = new Map<string, Promise<void>>();
  #closed = false;

  /**
   * Creates the sessions of an app. Nothing is read or written until the
   * first request.
   *
   * @param options The store, cookies, session lifetime, and the
   * {@linkcode AuthorizationCode} options every session's provider shares.
   * @throws {TypeError} When `kv` is missing, `keyPrefix` is not an array,
   * `cookieName` is not a valid cookie name, `successUrl` is not a path on
   * this site, `secureCookies` is not `"auto"` or a boolean, a provider
   * option is wrong or missing (client ID, secret without PKCE, redirect
   * URI: from the options or the environment), or `tokenCache` /
   * `refreshToken` is given (each session has its own token in `kv`).
   * @throws {RangeError} When `sessionTtlSeconds` is not a positive number
   * or `maxCachedSessions` is not an integer ≥ 0.
   */
  constructor(options: UserSessionsOptions) {
    const {
      kv,
      keyPrefix,
      cookieName,
      sessionTtlSeconds,
      successUrl,
      secureCookies,
      maxCachedSessions,
      onAuthorizationLost,
      ...providerOptions
    } = options ?? ({} as UserSessionsOptions);
    if (
      typeof kv !== "object" || kv === null || typeof kv.get !== "function" ||
      typeof kv.set !== "function" || typeof kv.delete !== "function" ||
      typeof kv.atomic !== "function"
    ) {
      throw new TypeError(
        `${OWNER}: "kv" must be a Deno.Kv, e.g. await Deno.openKv() (needs --unstable-kv)`,
      );
    }
    this.#kv = kv;
    if (keyPrefix !== undefined && !Array.isArray(keyPrefix)) {
      throw new TypeError(
        `${OWNER}: "keyPrefix" must be an array of Deno.KvKey parts, such as ["my-app", "spotify"]`,
      );
    }
    this.#keyPrefix = [...(keyPrefix ?? ["spotify-sdk"])];
    const name = cookieName ?? "spotify_session";
    if (!isCookieName(name)) {
      throw new TypeError(
        `${OWNER}: "cookieName" must be a cookie name (letters, digits and !#$%&'*+-.^_\`|~), got ${
          JSON.stringify(name)
        }`,
      );
    }
    this.#cookieName = name;
    this.#signInCookieName = `${name}_signin`;
    // At least a second: the cookie's Max-Age is whole seconds, and 0 would
    // delete the cookie it sets.
    checkNumberOption(OWNER, "sessionTtlSeconds", sessionTtlSeconds, {
      unit: "seconds",
      min: 1,
    });
    const ttl = sessionTtlSeconds ?? DEFAULT_SESSION_TTL_SECONDS;
    this.#sessionTtlMs = ttl * 1000;
    this.#successUrl = checkSuccessUrl(successUrl ?? "/", "successUrl");
    const secure = secureCookies ?? "auto";
    if (secure !== "auto" && typeof secure !== "boolean") {
      throw new TypeError(
        `${OWNER}: "secureCookies" must be "auto", true or false`,
      );
    }
    this.#secureCookies = secure;
    checkNumberOption(OWNER, "maxCachedSessions", maxCachedSessions, {
      min: 0,
      integer: true,
    });
    const max = maxCachedSessions ?? DEFAULT_MAX_CACHED_SESSIONS;
    if (
      onAuthorizationLost !== undefined &&
      typeof onAuthorizationLost !== "function"
    ) {
      throw new TypeError(`${OWNER}: "onAuthorizationLost" must be a function`);
    }
    this.#onAuthorizationLost = onAuthorizationLost;
    const single = providerOptions as AuthorizationCodeOptions;
    for (const option of ["tokenCache", "refreshToken", "authorizedAt"]) {
      if (single[option as keyof AuthorizationCodeOptions] !== undefined) {
        throw new TypeError(
          `${OWNER}: remove "${option}": every session keeps its own token in "kv"`,
        );
      }
    }
    // Read the environment once, so that no per-session provider does.
    this.#providerOptions = {
      ...providerOptions,
      clientId: resolveOption(
        OWNER,
        "clientId",
        providerOptions.clientId,
        "SPOTIFY_SDK_CLIENT_ID",
      ),
      redirectUri: resolveOption(
        OWNER,
        "redirectUri",
        providerOptions.redirectUri,
        "SPOTIFY_SDK_REDIRECT_URI",
      ),
    };
    if (providerOptions.pkce !== true) {
      this.#providerOptions.clientSecret = resolveOption(
        OWNER,
        "clientSecret",
        providerOptions.clientSecret,
        "SPOTIFY_SDK_CLIENT_SECRET",
      );
    }
    this.#clock = providerOptions.clock ?? Date;
    // Checks every provider option once, with AuthorizationCode's messages.
    this.#signInProvider = new AuthorizationCode(this.#providerOptions);
    this.#providers = new SessionProviders(max);
  }

  /**
   * Starts a sign-in: a `302` to Spotify's authorize page. The pending
   * sign-in (state, PKCE verifier, success URL, creation time) waits in KV
   * for 10 minutes, bound to this browser by a cookie
   * `<cookieName>_signin=<state>; HttpOnly; SameSite=Lax; Path=/;
   * Max-Age=600` (`Secure` as `secureCookies` says).
   *
   * @param request The browser's request (only its URL is read).
   * @param options `successUrl`, `scope` and `showDialog` for this sign-in.
   * @returns The redirect to Spotify.
   * @throws {TypeError} When closed, when `request` is not a `Request`, or
   * when `successUrl` is not a path on this site.
   * @throws {Error} When the store keeps failing.
   *
   * @example
   * ```ts
   * import { UserSessions } from "@spotify-sdk/auth";
   *
   * using kv = await Deno.openKv(":memory:");
   * await using sessions = new UserSessions({
   *   kv,
   *   clientId: "your-client-id",
   *   pkce: true,
   *   redirectUri: "http://127.0.0.1:8080/callback",
   * });
   * const response = await sessions.signIn(
   *   new Request("http://127.0.0.1:8080/login"),
   * );
   * console.log(new URL(response.headers.get("location")!).pathname); // "/authorize"
   * ```
   */
  async signIn(
    request: Request,
    options: SignInOptions = {},
  ): Promise<Response> {
    this.#assertOpen();
    const secure = this.#isSecure(request);
    const successUrl = options.successUrl === undefined
      ? this.#successUrl
      : checkSuccessUrl(options.successUrl, "signIn: successUrl");
    const { url, state, codeVerifier } = await this.#signInProvider
      .createAuthorizationRequest({
        ...options.scope === undefined ? {} : { scope: options.scope },
        ...options.showDialog === undefined
          ? {}
          : { showDialog: options.showDialog },
      });
    const pending: PendingSignIn = codeVerifier === undefined
      ? { createdAt: this.#clock.now(), successUrl }
      : { createdAt: this.#clock.now(), successUrl, codeVerifier };
    await retryBusy(() =>
      this.#kv.set(this.#key("signin", state), pending, {
        expireIn: SIGN_IN_TTL_MS,
      })
    );
    const headers = new Headers({
      location: url,
      "cache-control": "no-store",
    });
    headers.append(
      "set-cookie",
      setCookie(this.#signInCookieName, state, {
        maxAge: SIGN_IN_TTL_MS / 1000,
        secure,
      }),
    );
    return new Response(null, { status: 302, headers });
  }

  /**
   * Finishes a sign-in on the redirect URI. The callback's `state` must
   * match both this browser's sign-in cookie and a pending sign-in in KV
   * under 10 minutes old (by the provider clock); the pending sign-in is
   * removed atomically, so a replayed callback fails. A callback refused
   * for its cookie leaves the pending sign-in in place (a forged request
   * cannot cancel a real sign-in). Then the callback's `error`, the code
   * exchange, and a new session: its token in KV, and a `302` to the
   * success URL that sets the session cookie and clears the sign-in cookie.
   *
   * @param request The callback request (its URL carries `code` and
   * `state`; its `Cookie` header the sign-in cookie).
   * @returns The response to send, the new session id and its token.
   * @throws {SpotifyAuthError} `state_mismatch` (no, unknown, used, expired
   * or another browser's state: no session is created), `access_denied`
   * (the user said no) or the callback's other `error`, `missing_code`,
   * `invalid_grant` and the other errors of the code exchange.
   * @throws {TypeError} When closed or when `request` is not a `Request`.
   *
   * @example
   * ```ts
   * import { SpotifyAuthError, UserSessions } from "@spotify-sdk/auth";
   *
   * using kv = await Deno.openKv(":memory:");
   * await using sessions = new UserSessions({
   *   kv,
   *   clientId: "your-client-id",
   *   pkce: true,
   *   redirectUri: "http://127.0.0.1:8080/callback",
   * });
   * // A callback this browser never started:
   * const forged = new Request(
   *   "http://127.0.0.1:8080/callback?code=stolen&state=forged",
   * );
   * try {
   *   await sessions.handleCallback(forged);
   * } catch (error) {
   *   console.log(error instanceof SpotifyAuthError && error.code); // "state_mismatch"
   * }
   * ```
   */
  async handleCallback(request: Request): Promise<SignInResult> {
    this.#assertOpen();
    const secure = this.#isSecure(request);
    const state = new URL(request.url).searchParams.get("state");
    if (!isRandomId(state)) {
      throw stateMismatch("The callback has no state this app issued");
    }
    const cookie = readCookie(request.headers, this.#signInCookieName);
    if (cookie === undefined || !safeEqual(cookie, state)) {
      throw stateMismatch(
        "This browser did not start the sign-in the callback belongs to (its sign-in cookie is missing or different)",
      );
    }
    const key = this.#key("signin", state);
    const entry = await retryBusy(() => this.#kv.get(key));
    const pending = pendingFromValue(entry.value);
    if (entry.versionstamp === null || pending === undefined) {
      throw stateMismatch("The sign-in is unknown or was already used");
    }
    const { ok } = await retryBusy(() =>
      this.#kv.atomic().check({ key, versionstamp: entry.versionstamp })
        .delete(key).commit()
    );
    if (!ok) throw stateMismatch("The sign-in was already used");
    if (this.#clock.now() - pending.createdAt >= SIGN_IN_TTL_MS) {
      throw stateMismatch("The sign-in took longer than 10 minutes");
    }
    const code = AuthorizationCode.parseResponseUrl(request.url, {
      expectedState: state,
    });

    const sessionId = createState(); // 32 random bytes, base64url
    const signedInAt = this.#clock.now();
    const session: SessionRecord = {
      signedInAt,
      expiresAt: signedInAt + this.#sessionTtlMs,
    };
    const provider = this.#createProvider(sessionId, session);
    this.#signingIn.add(provider);
    let token: TokenInfo;
    try {
      // The session first: its token is stored only while it exists. Nobody
      // knows its id before the cookie below.
      await retryBusy(() =>
        this.#kv.set(this.#key("session", sessionId), session, {
          expireIn: this.#sessionTtlMs,
        })
      );
      token = await provider.exchangeCode(
        code,
        pending.codeVerifier === undefined
          ? {}
          : { codeVerifier: pending.codeVerifier },
      );
      this.#assertOpen();
    } catch (error) {
      this.#signingIn.delete(provider);
      await provider.close();
      // Half a session is no session: remove what was written now rather
      // than wait for its expiry.
      await this.#deleteQuietly(this.#key("session", sessionId));
      await this.#deleteQuietly(this.#key("token", sessionId));
      throw error;
    }
    this.#signingIn.delete(provider);
    this.#providers.adopt(sessionId, provider);

    const headers = new Headers({
      // Read back from KV: checked again, a tampered entry cannot redirect
      // the browser off the site.
      location: isLocalPath(pending.successUrl) ? pending.successUrl : "/",
      "cache-control": "no-store",
    });
    headers.append(
      "set-cookie",
      setCookie(this.#cookieName, sessionId, {
        maxAge: this.#sessionTtlMs / 1000,
        secure,
      }),
    );
    headers.append(
      "set-cookie",
      setCookie(this.#signInCookieName, "", { maxAge: 0, secure }),
    );
    return {
      response: new Response(null, { status: 302, headers }),
      sessionId,
      token,
    };
  }

  /**
   * The request's session id: its session cookie is present, well formed,
   * and the session exists in KV (one read).
   *
   * @param request The browser's request.
   * @returns The session id, or `undefined` when the browser is not signed
   * in.
   * @throws {TypeError} When closed or when `request` is not a `Request`.
   * @throws {Error} When the store keeps failing.
   *
   * @example Show a sign-in link to visitors
   * ```ts
   * import { UserSessions } from "@spotify-sdk/auth";
   *
   * using kv = await Deno.openKv(":memory:");
   * await using sessions = new UserSessions({
   *   kv,
   *   clientId: "your-client-id",
   *   pkce: true,
   *   redirectUri: "http://127.0.0.1:8080/callback",
   * });
   * const request = new Request("http://127.0.0.1:8080/");
   * if (await sessions.getSessionId(request) === undefined) {
   *   console.log('<a href="/login">Sign in with Spotify</a>');
   * }
   * ```
   */
  async getSessionId(request: Request): Promise<string | undefined> {
    this.#assertOpen();
    const sessionId = this.#cookieSessionId(request);
    if (sessionId === undefined) return undefined;
    return (await this.#readSession(sessionId)) === undefined
      ? undefined
      : sessionId;
  }

  /**
   * The session's access token. Checks on every call that the session
   * still exists in KV (one read: a sign-out anywhere takes effect
   * everywhere at once), then returns its token: from memory while fresh,
   * else refreshed with one request per expiry (single-flight per session
   * here, the KV lock across processes).
   *
   * @param requestOrSessionId The browser's request, or a session id from
   * {@linkcode UserSessions.getSessionId} or
   * {@linkcode UserSessions.handleCallback} (for background jobs).
   * @param options `forceRefresh` (after a `401`) and an abort `signal`.
   * @returns The access token.
   * @throws {SpotifyAuthError} `authorization_required` without any token
   * request when the session is missing, malformed or unknown; also when
   * the session's refresh token is dead (the session is removed and
   * `onAuthorizationLost` called first); network and HTTP errors of a
   * refresh (the session stays).
   * @throws {TypeError} When closed or when the argument is neither a
   * `Request` nor a string.
   *
   * @example Call the Web API for the signed-in user
   * ```ts
   * import { SpotifyAuthError, UserSessions } from "@spotify-sdk/auth";
   *
   * using kv = await Deno.openKv(":memory:");
   * await using sessions = new UserSessions({
   *   kv,
   *   clientId: "your-client-id",
   *   pkce: true,
   *   redirectUri: "http://127.0.0.1:8080/callback",
   * });
   * async function me(request: Request): Promise<Response> {
   *   try {
   *     const token = await sessions.getAccessToken(request);
   *     return await fetch("https://api.spotify.com/v1/me", {
   *       headers: { authorization: `Bearer ${token}` },
   *     });
   *   } catch (error) {
   *     if (error instanceof SpotifyAuthError && error.code === "authorization_required") {
   *       return Response.redirect(new URL("/login", request.url), 302);
   *     }
   *     throw error;
   *   }
   * }
   * console.log((await me(new Request("http://127.0.0.1:8080/me"))).status); // 302
   * ```
   */
  async getAccessToken(
    requestOrSessionId: Request | string,
    options?: GetAccessTokenOptions,
  ): Promise<string> {
    this.#assertOpen();
    const sessionId = typeof requestOrSessionId === "string"
      ? (isRandomId(requestOrSessionId) ? requestOrSessionId : undefined)
      : this.#cookieSessionId(requestOrSessionId);
    if (sessionId === undefined) throw noSession();
    const session = await this.#readSession(sessionId);
    if (session === undefined) throw noSession();
    this.#assertOpen();
    try {
      return await this.#providers.use(
        sessionId,
        () => this.#createProvider(sessionId, session),
        (provider) => provider.getAccessToken(options),
      );
    } catch (error) {
      if (
        error instanceof SpotifyAuthError &&
        error.code === "authorization_required"
      ) {
        // The token is gone (dead, or signed out elsewhere): so is the session.
        // Best effort: a failing store must not replace what the caller hears.
        await this.#endSession(sessionId).catch(() => {});
      }
      throw error;
    }
  }

  /**
   * Signs the browser out: removes its session and the session's token
   * from KV (in every process at once) and answers a `302` to `/` that
   * clears the session cookie. Spotify has no revocation endpoint: the
   * user's grant to the app stays in their Spotify account settings.
   *
   * @param request The browser's request.
   * @returns The redirect to `/`.
   * @throws {TypeError} When closed or when `request` is not a `Request`.
   * @throws {Error} When the store keeps failing.
   *
   * @example
   * ```ts
   * import { UserSessions } from "@spotify-sdk/auth";
   *
   * using kv = await Deno.openKv(":memory:");
   * await using sessions = new UserSessions({
   *   kv,
   *   clientId: "your-client-id",
   *   pkce: true,
   *   redirectUri: "http://127.0.0.1:8080/callback",
   * });
   * const response = await sessions.signOut(
   *   new Request("http://127.0.0.1:8080/logout", { method: "POST" }),
   * );
   * console.log(response.headers.get("set-cookie")); // "spotify_session=; HttpOnly; SameSite=Lax; Path=/; Max-Age=0"
   * ```
   */
  async signOut(request: Request): Promise<Response> {
    this.#assertOpen();
    const secure = this.#isSecure(request);
    const sessionId = this.#cookieSessionId(request);
    if (sessionId !== undefined) await this.#endSession(sessionId);
    const headers = new Headers({ location: "/", "cache-control": "no-store" });
    headers.append(
      "set-cookie",
      setCookie(this.#cookieName, "", { maxAge: 0, secure }),
    );
    return new Response(null, { status: 302, headers });
  }

  /**
   * Stops every refresh and code exchange in flight (their calls reject)
   * and refuses later calls. The `kv` belongs to the caller and stays open.
   *
   * @returns A promise that settles once everything is released.
   *
   * @example
   * ```ts
   * import { UserSessions } from "@spotify-sdk/auth";
   *
   * using kv = await Deno.openKv(":memory:");
   * const sessions = new UserSessions({
   *   kv,
   *   clientId: "your-client-id",
   *   pkce: true,
   *   redirectUri: "http://127.0.0.1:8080/callback",
   * });
   * await sessions.close();
   * ```
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([
      this.#providers.close(),
      this.#signInProvider.close(),
      ...[...this.#signingIn].map((provider) => provider.close()),
      // Session removals under way finish their store retries first.
      ...[...this.#ending.values()].map((ending) => ending.catch(() => {})),
    ]);
  }

  /**
   * Same as {@linkcode UserSessions.close}, for `await using`.
   *
   * @returns A promise that settles once everything is released.
   *
   * @example
   * ```ts
   * import { UserSessions } from "@spotify-sdk/auth";
   *
   * using kv = await Deno.openKv(":memory:");
   * await using sessions = new UserSessions({
   *   kv,
   *   clientId: "your-client-id",
   *   pkce: true,
   *   redirectUri: "http://127.0.0.1:8080/callback",
   * });
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #assertOpen(): void {
    if (this.#closed) {
      throw new TypeError(
        `${OWNER} is closed: create a new one to serve requests again`,
      );
    }
  }

  #key(kind: "session" | "token" | "signin", id: string): KvKeyLike {
    return [...this.#keyPrefix, kind, id];
  }

  #isSecure(request: Request): boolean {
    checkRequest(request);
    return this.#secureCookies === "auto"
      ? request.url.startsWith("https:")
      : this.#secureCookies;
  }

  #cookieSessionId(request: Request): string | undefined {
    checkRequest(request);
    const value = readCookie(request.headers, this.#cookieName);
    // Checked before KV is touched: a junk cookie costs no read.
    return isRandomId(value) ? value : undefined;
  }

  async #readSession(sessionId: string): Promise<SessionRecord | undefined> {
    const entry = await retryBusy(() =>
      this.#kv.get(this.#key("session", sessionId))
    );
    return sessionFromValue(entry.value, this.#clock.now());
  }

  #createProvider(
    sessionId: string,
    session: SessionRecord,
  ): AuthorizationCode {
    return new AuthorizationCode({
      ...this.#providerOptions,
      tokenCache: new KvTokenCache({
        kv: expiringKv(
          this.#kv,
          this.#key("session", sessionId),
          session.expiresAt,
          this.#clock,
        ),
        key: this.#key("token", sessionId),
      }),
      onAuthorizationLost: (error) => this.#authorizationLost(sessionId, error),
    });
  }

  async #authorizationLost(
    sessionId: string,
    error: SpotifyAuthError,
  ): Promise<void> {
    try {
      await retryBusy(() => this.#kv.delete(this.#key("session", sessionId)));
    } catch {
      // The token is gone already, so the session cannot be used anyway.
    }
    this.#providers.remove(sessionId);
    try {
      await this.#onAuthorizationLost?.(error, sessionId);
    } catch {
      // The app's callback must not change what the caller hears.
    }
  }

  /**
   * Removes the session, then its token (signing its provider out). The
   * many callers of one session that hear `authorization_required` at once
   * share one removal.
   */
  #endSession(sessionId: string): Promise<void> {
    let ending = this.#ending.get(sessionId);
    if (ending === undefined) {
      ending = this.#removeSession(sessionId).finally(() =>
        this.#ending.delete(sessionId)
      );
      this.#ending.set(sessionId, ending);
    }
    return ending;
  }

  async #removeSession(sessionId: string): Promise<void> {
    // The session first: every process checks it on each call.
    await retryBusy(() => this.#kv.delete(this.#key("session", sessionId)));
    const provider = this.#providers.peek(sessionId);
    if (provider !== undefined) {
      try {
        // Aborts a refresh in flight: its callers hear authorization_required.
        await provider.signOut();
      } catch {
        // Closed meanwhile; the token is removed below either way.
      }
      this.#providers.remove(sessionId);
    }
    await retryBusy(() => this.#kv.delete(this.#key("token", sessionId)));
  }

  async #deleteQuietly(key: KvKeyLike): Promise<void> {
    try {
      await retryBusy(() => this.#kv.delete(key));
    } catch {
      // It expires with the session's TTL anyway.
    }
  }
}

function checkRequest(request: Request): void {
  if (
    typeof request !== "object" || request === null ||
    typeof request.url !== "string" ||
    typeof request.headers?.get !== "function"
  ) {
    throw new TypeError(
      `${OWNER}: pass the web-standard Request (in Hono: c.req.raw)`,
    );
  }
}

/**
 * A success URL must stay on this site: a path with one leading slash
 * (`//host` and `/\host` are other origins to a browser), no control
 * characters. An app that passes a user's `?next=` cannot become an open
 * redirect.
 */
function isLocalPath(value: unknown): value is string {
  return typeof value === "string" && /^\/(?![/\\])/.test(value) &&
    // deno-lint-ignore no-control-regex -- control characters are the point
    !/[\x00-\x1f\x7f\\]/.test(value);
}

function checkSuccessUrl(value: unknown, option: string): string {
  if (!isLocalPath(value)) {
    throw new TypeError(
      `${OWNER}: "${option}" must be a path on this site such as "/home", got ${
        describeValue(value)
      }`,
    );
  }
  return value;
}

function stateMismatch(reason: string): SpotifyAuthError {
  return new SpotifyAuthError(
    "state_mismatch",
    `${reason}: no session was created; start the sign-in again`,
  );
}

function noSession(): SpotifyAuthError {
  return new SpotifyAuthError(
    "authorization_required",
    "This request has no signed-in session (no session cookie, or the session ended): send the user to sign in with UserSessions.signIn()",
  );
}
