/**
 * {@linkcode FakeAccountsServer}: a strict, deterministic fake of
 * `accounts.spotify.com` (and `GET /v1/me`), in-process or over HTTP.
 *
 * @module
 */

import { sleep } from "../auth/_timing.ts";
import type { Clock, TokenInfo } from "../auth/token.ts";
import { decideAuthorize, KNOWN_SCOPES } from "./_fake_authorize.ts";
import {
  checkFailNextOptions,
  checkFault,
  describeValue,
  FaultQueue,
  malformedResponse,
  networkError,
  statusFaultResponse,
  unreadableResponse,
} from "./_fake_faults.ts";
import {
  errorPage,
  type FakeRequest,
  fromFetchArguments,
  fromRequest,
  fromServedRequest,
  isFormContentType,
  methodNotAllowed,
  notFound,
  preflightResponse,
  raceAbort,
  tokenEndpointResponse,
  webApiResponse,
} from "./_fake_http.ts";
import { checkRegisteredRedirectUri } from "./_fake_redirect_uri.ts";
import {
  type RegisteredClient,
  type RegisteredUser,
  TokenStore,
} from "./_fake_store.ts";
import {
  handleTokenGrant,
  requestedClientId,
  type TokenEndpointConfig,
  type TokenOutcome,
} from "./_fake_token_endpoint.ts";
import { handleMe } from "./_fake_web_api.ts";
import { Interner, RequestLog } from "./_fake_columns.ts";

/**
 * A Spotify app registered with the fake, as on Spotify's dashboard.
 *
 * @example Register a public (PKCE) app
 * ```ts
 * import { FakeAccountsServer, type FakeClient } from "@spotify-sdk/auth/testing";
 *
 * const publicApp: FakeClient = {
 *   clientId: "my-cli",
 *   redirectUris: ["http://127.0.0.1/callback"], // any port matches
 * };
 * const server = new FakeAccountsServer({ clients: [publicApp] });
 * const token = server.issueTokens({ clientId: "my-cli" });
 * console.log(server.inspectAccessToken(token.accessToken)?.clientId); // "my-cli"
 * ```
 */
export interface FakeClient {
  /** The app's client id. */
  readonly clientId: string;
  /**
   * The app's client secret. Omit it for a public client, which can only use
   * the authorization code flow with PKCE.
   */
  readonly clientSecret?: string;
  /**
   * Registered redirect URIs. Checked like the dashboard does: `https`, or
   * `http` on a loopback IP literal (`127.0.0.1`, `[::1]`); `localhost` is
   * rejected. A loopback URI without a port matches any port.
   *
   * @default {[]}
   */
  readonly redirectUris?: readonly string[];
}

/**
 * A Spotify user who can sign in at the fake's `/authorize`.
 *
 * @example A user whose profile /v1/me shows
 * ```ts
 * import { FakeAccountsServer, type FakeUser } from "@spotify-sdk/auth/testing";
 *
 * const alice: FakeUser = {
 *   id: "alice",
 *   displayName: "Alice",
 *   email: "alice@example.com",
 *   country: "SE",
 *   product: "premium",
 * };
 * const server = new FakeAccountsServer({ users: [alice] });
 * const { accessToken } = server.issueTokens({ scope: "user-read-email" });
 * const me = await server.fetch("https://api.spotify.com/v1/me", {
 *   headers: { authorization: `Bearer ${accessToken}` },
 * });
 * console.log((await me.json()).email); // "alice@example.com"
 * ```
 */
export interface FakeUser {
  /** The user id (`id` and `uri` of `/v1/me`). */
  readonly id: string;
  /** `display_name` of `/v1/me`. */
  readonly displayName: string;
  /** `email` of `/v1/me`, shown when the token has `user-read-email`. */
  readonly email?: string;
  /** `country` of `/v1/me`, shown when the token has `user-read-private`. */
  readonly country?: string;
  /** `product` of `/v1/me`, shown when the token has `user-read-private`. */
  readonly product?: string;
}

/**
 * What the simulated user does on the consent page.
 *
 * @example A user who declines
 * ```ts
 * import { FakeAccountsServer, type FakeConsent } from "@spotify-sdk/auth/testing";
 *
 * const consent: FakeConsent = "deny";
 * const server = new FakeAccountsServer({ consent });
 * const callback = await server.authorize(
 *   "https://accounts.spotify.com/authorize?response_type=code&client_id=test-client-id" +
 *     "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcallback&state=s1",
 * );
 * console.log(new URL(callback).searchParams.get("error")); // "access_denied"
 * ```
 */
export type FakeConsent = "approve" | "deny";

/**
 * Options of {@linkcode FakeAccountsServer}.
 *
 * @example Short-lived tokens on a fake clock
 * ```ts
 * import { ClientCredentials } from "@spotify-sdk/auth";
 * import {
 *   FakeAccountsServer,
 *   type FakeAccountsServerOptions,
 *   FakeClock,
 * } from "@spotify-sdk/auth/testing";
 *
 * const clock = new FakeClock();
 * const options: FakeAccountsServerOptions = { clock, accessTokenTtlSeconds: 60 };
 * const server = new FakeAccountsServer(options);
 * await using auth = new ClientCredentials({
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   fetch: server.fetch,
 *   clock,
 * });
 * console.log(await auth.getAccessToken()); // "fake-access-1"
 * clock.tick(60_000);
 * console.log(await auth.getAccessToken()); // "fake-access-2": the first one expired
 * ```
 */
export interface FakeAccountsServerOptions {
  /**
   * The registered apps; `issueTokens()` uses the first by default. The
   * default is one confidential app:
   * `[{ clientId: "test-client-id", clientSecret: "test-client-secret", redirectUris: ["http://127.0.0.1/callback"] }]`.
   *
   * @default {one app: clientId "test-client-id", clientSecret "test-client-secret", redirectUris ["http://127.0.0.1/callback"] (any port)}
   */
  readonly clients?: readonly FakeClient[];
  /**
   * The users; the first one signs in at `/authorize` unless
   * `authorize(url, { user })` names another. The default is one user:
   * `[{ id: "test-user", displayName: "Test User" }]`.
   *
   * @default {one user: id "test-user", displayName "Test User"}
   */
  readonly users?: readonly FakeUser[];
  /**
   * Time source for token and code expiry; share a `FakeClock` with the
   * providers under test to drive expiry.
   *
   * @default {Date}
   */
  readonly clock?: Clock;
  /**
   * Lifetime of access tokens (`expires_in`).
   *
   * @default {3600}
   */
  readonly accessTokenTtlSeconds?: number;
  /**
   * Lifetime of authorization codes.
   *
   * @default {600}
   */
  readonly codeTtlSeconds?: number;
  /**
   * Whether a refresh returns a new refresh token (and invalidates the old
   * one). Refresh tokens issued through PKCE always rotate, as Spotify's do.
   *
   * @default {"never"}
   */
  readonly refreshTokenRotation?: "never" | "always";
  /**
   * Lifetime of refresh tokens, counted from the user's sign-in at
   * `/authorize` (or `issueTokens({ authorizedAt })`); refreshing does not
   * extend it and a rotated refresh token inherits its predecessor's
   * deadline, as on Spotify since 2026. A refresh at or after the deadline
   * is answered `400 invalid_grant` `Refresh token expired`.
   *
   * @default {15_552_000}
   */
  readonly refreshTokenTtlSeconds?: number;
  /**
   * What the simulated user does at `/authorize`.
   *
   * @default {"approve"}
   */
  readonly consent?: FakeConsent;
}

/**
 * Options of {@linkcode FakeAccountsServer.prototype.authorize}.
 *
 * @example Sign in as another user
 * ```ts
 * import {
 *   FakeAccountsServer,
 *   type FakeAuthorizeOptions,
 * } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer({
 *   users: [{ id: "alice", displayName: "Alice" }, { id: "bob", displayName: "Bob" }],
 * });
 * const options: FakeAuthorizeOptions = { user: "bob", consent: "approve" };
 * const callback = await server.authorize(
 *   "https://accounts.spotify.com/authorize?response_type=code&client_id=test-client-id" +
 *     "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcallback&state=s1",
 *   options,
 * );
 * console.log(new URL(callback).searchParams.has("code")); // true
 * ```
 */
export interface FakeAuthorizeOptions {
  /**
   * What the simulated user does; overrides the server's `consent` option.
   */
  readonly consent?: FakeConsent;
  /**
   * Id of the user who signs in.
   *
   * @default {the first of the server's users}
   */
  readonly user?: string;
}

/**
 * Options of {@linkcode FakeAccountsServer.prototype.listen}.
 *
 * @example Serve over HTTP on a free port
 * ```ts
 * import { ClientCredentials } from "@spotify-sdk/auth";
 * import {
 *   FakeAccountsServer,
 *   type FakeListenOptions,
 * } from "@spotify-sdk/auth/testing";
 *
 * await using server = new FakeAccountsServer();
 * const options: FakeListenOptions = { hostname: "127.0.0.1", port: 0 };
 * await using auth = new ClientCredentials({
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   accountsUrl: await server.listen(options),
 * });
 * console.log(await auth.getAccessToken()); // "fake-access-1"
 * ```
 */
export interface FakeListenOptions {
  /**
   * Address to bind.
   *
   * @default {"127.0.0.1"}
   */
  readonly hostname?: string;
  /**
   * Port to bind; `0` picks a free one.
   *
   * @default {0}
   */
  readonly port?: number;
}

/**
 * Options of {@linkcode FakeAccountsServer.prototype.issueTokens}.
 *
 * @example Start a test already logged in
 * ```ts
 * import { AuthorizationCode } from "@spotify-sdk/auth";
 * import {
 *   FakeAccountsServer,
 *   type FakeIssueTokensOptions,
 *   FakeTokenCache,
 * } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * const options: FakeIssueTokensOptions = { userId: "test-user", scope: "user-read-private" };
 * const tokenCache = new FakeTokenCache({ token: server.issueTokens(options) });
 * await using auth = new AuthorizationCode({
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   redirectUri: "http://127.0.0.1:8080/callback",
 *   tokenCache,
 *   fetch: server.fetch,
 * });
 * console.log(await auth.getAccessToken()); // "fake-access-1", from the cache
 * ```
 */
export interface FakeIssueTokensOptions {
  /**
   * The app the tokens belong to.
   *
   * @default {the first of the server's clients}
   */
  readonly clientId?: string;
  /**
   * The user who authorized the app; `null` issues an app token (as the
   * client credentials grant does: no user, no refresh token, no scope).
   *
   * @default {the first of the server's users}
   */
  readonly userId?: string | null;
  /**
   * Granted scopes, space-separated or as an array; each must be one that
   * Spotify knows.
   *
   * @default {""}
   */
  readonly scope?: string | readonly string[];
  /**
   * Issue the refresh token as if through PKCE: refreshing needs no client
   * secret and always rotates.
   *
   * @default {true for a client without a secret, else false}
   */
  readonly pkce?: boolean;
  /**
   * When the user signed in, as Unix time in seconds: the refresh token
   * expires `refreshTokenTtlSeconds` later. Seed an old sign-in to test what
   * happens when the authorization runs out. Only for user tokens.
   *
   * @default {the server clock's now}
   */
  readonly authorizedAt?: number;
}

/**
 * What {@linkcode FakeAccountsServer.prototype.inspectAccessToken} tells.
 *
 * @example Check what a provider was granted
 * ```ts
 * import { ClientCredentials } from "@spotify-sdk/auth";
 * import {
 *   type FakeAccessTokenInfo,
 *   FakeAccountsServer,
 * } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * await using auth = new ClientCredentials({
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   fetch: server.fetch,
 * });
 * const info: FakeAccessTokenInfo | undefined = server.inspectAccessToken(
 *   await auth.getAccessToken(),
 * );
 * console.log(info?.clientId, info?.userId, info?.scope); // "test-client-id" undefined ""
 * ```
 */
export interface FakeAccessTokenInfo {
  /** The app the token was issued to. */
  readonly clientId: string;
  /** The user, absent for an app (client credentials) token. */
  readonly userId?: string;
  /** Space-separated granted scopes (`""` for app tokens). */
  readonly scope: string;
  /** Expiry as Unix time in seconds, like `TokenInfo.expiresAt`. */
  readonly expiresAt: number;
}

/**
 * What {@linkcode FakeAccountsServer.prototype.inspectRefreshToken} tells.
 *
 * @example See when a sign-in runs out
 * ```ts
 * import {
 *   FakeAccountsServer,
 *   FakeClock,
 *   type FakeRefreshTokenInfo,
 * } from "@spotify-sdk/auth/testing";
 *
 * const clock = new FakeClock();
 * const server = new FakeAccountsServer({ clock, refreshTokenTtlSeconds: 60 });
 * const { refreshToken } = server.issueTokens();
 * const info: FakeRefreshTokenInfo | undefined = server.inspectRefreshToken(refreshToken!);
 * console.log(info?.expiresAt === info!.authorizedAt + 60); // true
 * clock.tick(60_000);
 * console.log(server.inspectRefreshToken(refreshToken!)?.active); // false: expired
 * ```
 */
export interface FakeRefreshTokenInfo {
  /** The app the token was issued to. */
  readonly clientId: string;
  /** The user who signed in. */
  readonly userId: string;
  /** Space-separated granted scopes. */
  readonly scope: string;
  /**
   * The sign-in the token descends from, as Unix time in seconds (kept by
   * rotation).
   */
  readonly authorizedAt: number;
  /**
   * When refreshing with it stops working: `authorizedAt` plus
   * `refreshTokenTtlSeconds`, as Unix time in seconds.
   */
  readonly expiresAt: number;
  /**
   * Whether a refresh with it would succeed now: `false` once revoked,
   * rotated away or expired by the server's clock.
   */
  readonly active: boolean;
}

/**
 * The endpoints a fault can be queued for: `"token"` (`POST /api/token`),
 * `"authorize"` (`GET /authorize` and `authorize()`) and `"me"`
 * (`GET /v1/me` of the Web API), the same names as
 * {@linkcode FakeRequestRecord.endpoint}.
 *
 * @example Take every endpoint down once
 * ```ts
 * import {
 *   FakeAccountsServer,
 *   type FakeFaultEndpoint,
 * } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * const endpoints: FakeFaultEndpoint[] = ["token", "authorize", "me"];
 * for (const endpoint of endpoints) server.failNext({ status: 503 }, { endpoint });
 * const failed = await server.authorize("https://accounts.spotify.com/authorize?response_type=code&client_id=test-client-id" +
 *     "&redirect_uri=http%3A%2F%2F127.0.0.1%3A8080%2Fcallback&state=s1").catch((error) => error);
 * console.log(failed instanceof Error); // true: /authorize answered 503
 * ```
 */
export type FakeFaultEndpoint = "token" | "authorize" | "me";

/**
 * The endpoints recorded in {@linkcode FakeAccountsServer.prototype.requests}.
 *
 * @example Tell which endpoint a request hit
 * ```ts
 * import { FakeAccountsServer, type FakeEndpoint } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * const response = await server.fetch("https://api.spotify.com/v1/me");
 * await response.body?.cancel();
 * const endpoint: FakeEndpoint = server.requests[0].endpoint;
 * console.log(endpoint); // "me"
 * ```
 */
export type FakeEndpoint = "token" | "authorize" | "me";

/**
 * A fault that answers with a given status (and body and headers).
 *
 * @example Rate-limit the first request
 * ```ts
 * import { ClientCredentials } from "@spotify-sdk/auth";
 * import {
 *   FakeAccountsServer,
 *   type FakeStatusFault,
 * } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * const tooMany: FakeStatusFault = { status: 429, headers: { "retry-after": "0" } };
 * server.failNext(tooMany);
 * await using auth = new ClientCredentials({
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   fetch: server.fetch,
 * });
 * await auth.getAccessToken(); // retried after Retry-After
 * console.log(server.tokenRequestCount); // 2
 * ```
 */
export interface FakeStatusFault {
  /** HTTP status, 200–599. */
  readonly status: number;
  /** Body: a string is sent as is, any other value as JSON; none if absent. */
  readonly body?: unknown;
  /** Response headers, e.g. `{ "retry-after": "1" }`. */
  readonly headers?: HeadersInit;
}

/**
 * A fault that answers normally, but only after `delayMs` (real time).
 *
 * @example Make the first attempt time out
 * ```ts
 * import { ClientCredentials } from "@spotify-sdk/auth";
 * import {
 *   FakeAccountsServer,
 *   type FakeDelayFault,
 * } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * const slow: FakeDelayFault = { delayMs: 500 };
 * server.failNext(slow);
 * await using auth = new ClientCredentials({
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   timeoutMs: 50,
 *   retryDelayMs: 1,
 *   fetch: server.fetch,
 * });
 * await auth.getAccessToken(); // the slow attempt times out, the retry does not
 * console.log(server.tokenRequestCount); // 2
 * ```
 */
export interface FakeDelayFault {
  /** Delay in milliseconds before the normal answer. */
  readonly delayMs: number;
}

/**
 * An injected failure: `{ status, body?, headers? }`, `"network"` (the fetch
 * rejects with `TypeError`, as for a dropped connection), `{ delayMs }`, or
 * `"malformed"` (200 with a body that is not JSON).
 *
 * @example Queue a run of failures
 * ```ts
 * import { FakeAccountsServer, type FakeFault } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * const faults: FakeFault[] = [{ status: 503 }, "network", "malformed"];
 * for (const fault of faults) server.failNext(fault);
 * const response = await server.fetch("https://accounts.spotify.com/api/token", {
 *   method: "POST",
 * });
 * console.log(response.status); // 503, then a dropped connection, then bad JSON
 * await response.body?.cancel();
 * ```
 */
export type FakeFault =
  | FakeStatusFault
  | FakeDelayFault
  | "network"
  | "malformed";

/**
 * Options of {@linkcode FakeAccountsServer.prototype.failNext}.
 *
 * @example Retry a flaky endpoint
 * ```ts
 * import { ClientCredentials } from "@spotify-sdk/auth";
 * import {
 *   FakeAccountsServer,
 *   type FakeFailNextOptions,
 * } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * const options: FakeFailNextOptions = { times: 2, endpoint: "token" };
 * server.failNext({ status: 503 }, options);
 * await using auth = new ClientCredentials({
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   retryDelayMs: 1,
 *   fetch: server.fetch,
 * });
 * console.log(await auth.getAccessToken()); // "fake-access-1", on the third attempt
 * ```
 */
export interface FakeFailNextOptions {
  /**
   * How many requests the fault applies to (`Infinity`: all of them).
   *
   * @default {1}
   */
  readonly times?: number;
  /**
   * Which endpoint's requests fail: `"token"` (`/api/token`),
   * `"authorize"` (`/authorize` and `authorize()`) or `"me"` (`/v1/me`).
   *
   * @default {"token"}
   */
  readonly endpoint?: FakeFaultEndpoint;
}

/**
 * One request the fake received. Never holds secrets, codes, verifiers or
 * tokens.
 *
 * @example Assert on the requests a provider made
 * ```ts
 * import { ClientCredentials } from "@spotify-sdk/auth";
 * import {
 *   FakeAccountsServer,
 *   type FakeRequestRecord,
 * } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * server.failNext("network");
 * await using auth = new ClientCredentials({
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   retryDelayMs: 1,
 *   fetch: server.fetch,
 * });
 * await auth.getAccessToken();
 * const [dropped, ok]: readonly FakeRequestRecord[] = server.requests;
 * console.log(dropped.status, ok.status, ok.grantType); // 0 200 "client_credentials"
 * ```
 */
export interface FakeRequestRecord {
  /**
   * Which endpoint was hit: `"token"` (`/api/token`), `"authorize"`
   * (`/authorize`, also `authorize()`) or `"me"` (`/v1/me` and `/v1/me/`).
   */
  readonly endpoint: FakeEndpoint;
  /** The `grant_type` of a token request, if it sent one. */
  readonly grantType?: string;
  /** The client id the request named (or its token belongs to, for `me`). */
  readonly clientId?: string;
  /**
   * The status answered; `0` when there was no answer: an injected network
   * fault, a request aborted during a delay, or one still in progress.
   */
  readonly status: number;
  /** Arrival time, in milliseconds of the server's clock. */
  readonly at: number;
}

const DEFAULT_CLIENT: FakeClient = {
  clientId: "test-client-id",
  clientSecret: "test-client-secret",
  redirectUris: ["http://127.0.0.1/callback"],
};
const DEFAULT_USER: FakeUser = { id: "test-user", displayName: "Test User" };
/** 180 days: Spotify's refresh-token lifetime since 2026. */
const DEFAULT_REFRESH_TOKEN_TTL_SECONDS = 15_552_000;
const EMPTY_FORM = new URLSearchParams();
const TOKEN_METHODS = "POST, OPTIONS";
const ME_METHODS = "GET, HEAD, OPTIONS";

/** How long close() waits for answers in progress before cutting them. */
const CLOSE_GRACE_MS = 500;

/** The HTTP side of a listening fake. */
interface Listening {
  server: Deno.HttpServer<Deno.NetAddr>;
  /** Aborted by close(): cuts all connections, ends injected delays. */
  readonly cut: AbortController;
  /** Requests received and not yet answered. */
  inFlight: number;
  /** Called when `inFlight` drops to 0 (set by close()). */
  onIdle: (() => void) | undefined;
  readonly release: () => void;
}

/** Marks an answer that is a dropped connection rather than a response. */
const DROP: unique symbol = Symbol("drop connection");
type Answer = Response | typeof DROP;

function statusOf(answer: Answer): number {
  return answer === DROP ? 0 : answer.status;
}

function positiveSeconds(
  name: string,
  value: number | undefined,
  fallback: number,
): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number") {
    throw new TypeError(
      `${name} must be a number of seconds, got ${describeValue(value)}`,
    );
  }
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(
      `${name} must be a finite number of seconds > 0, got ${value}`,
    );
  }
  return value;
}

/** `authorizedAt` of `issueTokens()`, in milliseconds. */
function checkAuthorizedAt(
  authorizedAt: unknown,
  appToken: boolean,
): number | undefined {
  if (authorizedAt === undefined) return undefined;
  if (typeof authorizedAt !== "number") {
    throw new TypeError(
      `authorizedAt must be a number of Unix seconds, got ${
        describeValue(authorizedAt)
      }`,
    );
  }
  if (!Number.isFinite(authorizedAt) || authorizedAt < 0) {
    throw new RangeError(
      `authorizedAt must be a finite number of Unix seconds >= 0, got ${authorizedAt}`,
    );
  }
  if (appToken) {
    throw new TypeError(
      "authorizedAt is the time of a user's sign-in: omit it for an app token (userId: null)",
    );
  }
  // Rounded so that seconds read from a clock in milliseconds round-trip.
  return Math.round(authorizedAt * 1000);
}

function checkConsent(consent: unknown, where: string): FakeConsent {
  if (consent !== "approve" && consent !== "deny") {
    throw new TypeError(
      `${where} must be "approve" or "deny", got ${JSON.stringify(consent)}`,
    );
  }
  return consent;
}

function unescapeHtml(text: string): string {
  return text.replaceAll("&lt;", "<").replaceAll("&gt;", ">").replaceAll(
    "&amp;",
    "&",
  );
}

/**
 * A strict, deterministic fake of Spotify's accounts service
 * (`/authorize`, `/api/token`) plus `GET /v1/me`, for testing code that uses
 * the providers without a network or a Spotify app.
 *
 * Use it in-process through {@linkcode FakeAccountsServer.prototype.fetch}
 * (pass it as the providers' `fetch`), or over HTTP after
 * {@linkcode FakeAccountsServer.prototype.listen} (pass
 * {@linkcode FakeAccountsServer.prototype.url} as `accountsUrl`).
 *
 * It validates everything Spotify validates and answers with Spotify's
 * statuses and error bodies. Where Spotify's behaviour is not documented:
 *
 * - Codes are single-use. Exchanging a code a second time fails with
 *   `invalid_grant` `Invalid authorization code` **and revokes what the first
 *   exchange issued** (RFC 6749 §4.1.2): its refresh token (and any it was
 *   rotated into) then fails with `Refresh token revoked`, its access tokens
 *   with 401 at `/v1/me`. A failed exchange (wrong redirect URI or verifier,
 *   missing client authentication) leaves the code usable.
 * - Access tokens, codes and refresh tokens expire by the injected clock;
 *   a refresh token `refreshTokenTtlSeconds` (180 days) after the sign-in it
 *   descends from, whatever refreshes or rotations happened in between.
 *   Expiry is checked after revocation: a refresh token both revoked and
 *   expired is answered `Refresh token revoked`.
 * - CORS preflights (`OPTIONS`) are answered (204) but neither logged in
 *   {@linkcode FakeAccountsServer.prototype.requests}, counted in
 *   {@linkcode FakeAccountsServer.prototype.tokenRequestCount}, nor failed by
 *   queued faults.
 *
 * @example Get an app token in-process
 * ```ts
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * const response = await server.fetch("https://accounts.spotify.com/api/token", {
 *   method: "POST",
 *   headers: { authorization: `Basic ${btoa("test-client-id:test-client-secret")}` },
 *   body: new URLSearchParams({ grant_type: "client_credentials" }),
 * });
 * const body = await response.json();
 * console.log(body.access_token); // "fake-access-1"
 * ```
 *
 * @example Serve it over HTTP
 * ```ts
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * await using server = new FakeAccountsServer();
 * await server.listen();
 * const response = await fetch(`${server.url}/api/token`, { method: "POST" });
 * console.log(response.status); // 400
 * await response.body?.cancel();
 * ```
 */
export class FakeAccountsServer implements AsyncDisposable {
  /**
   * A `fetch` that answers `/api/token`, `/authorize` and `/v1/me` (any
   * host, matched by path) without a socket; other paths get 404. Honours
   * `init.signal`, also during a `{ delayMs }` fault. Bound: pass it around
   * as is.
   *
   * @example
   * ```ts
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * const server = new FakeAccountsServer();
   * const response = await server.fetch("https://api.spotify.com/v1/me");
   * console.log(response.status); // 401
   * await response.body?.cancel();
   * ```
   */
  readonly fetch: (
    input: string | URL | Request,
    init?: RequestInit,
  ) => Promise<Response>;

  /**
   * The same as {@linkcode FakeAccountsServer.prototype.fetch}, as a plain
   * request handler (for `Deno.serve` or your own router). Rejects with a
   * `TypeError` for an injected network fault.
   *
   * @example
   * ```ts
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * const server = new FakeAccountsServer();
   * const response = await server.handler(
   *   new Request("https://accounts.spotify.com/api/token", { method: "GET" }),
   * );
   * console.log(response.status); // 405
   * await response.body?.cancel();
   * ```
   */
  readonly handler: (request: Request) => Promise<Response>;

  readonly #clients: ReadonlyMap<string, RegisteredClient>;
  readonly #users: ReadonlyMap<string, RegisteredUser>;
  readonly #firstClientId: string;
  readonly #firstUserId: string;
  readonly #clock: Clock;
  readonly #codeTtlSeconds: number;
  readonly #consent: FakeConsent;
  readonly #store: TokenStore;
  readonly #tokenConfig: TokenEndpointConfig;
  readonly #faults = new FaultQueue();
  readonly #log = new RequestLog(new Interner());
  #tokenRequestCount = 0;
  #listening: Listening | undefined;
  #url: string | undefined;

  /**
   * Creates a fake with the given apps, users and behaviour.
   *
   * @param options Apps, users, clock, lifetimes, rotation and consent.
   * @throws {TypeError} If a client or user is malformed or duplicated, or a
   * redirect URI would be rejected by Spotify's dashboard (`localhost`, or
   * `http` on a host that is not a loopback IP literal); the message says
   * what to register instead.
   * @throws {RangeError} If a lifetime is not a positive number.
   *
   * @example A public (PKCE) client and two users
   * ```ts
   * import { FakeAccountsServer, FakeClock } from "@spotify-sdk/auth/testing";
   *
   * const server = new FakeAccountsServer({
   *   clients: [{ clientId: "my-app", redirectUris: ["http://127.0.0.1:8888/callback"] }],
   *   users: [
   *     { id: "alice", displayName: "Alice" },
   *     { id: "bob", displayName: "Bob", email: "bob@example.com" },
   *   ],
   *   clock: new FakeClock(),
   *   refreshTokenRotation: "always",
   * });
   * ```
   */
  constructor(options: FakeAccountsServerOptions = {}) {
    this.#clock = options.clock ?? Date;
    const accessTokenTtlSeconds = positiveSeconds(
      "accessTokenTtlSeconds",
      options.accessTokenTtlSeconds,
      3600,
    );
    this.#codeTtlSeconds = positiveSeconds(
      "codeTtlSeconds",
      options.codeTtlSeconds,
      600,
    );
    const refreshTokenTtlSeconds = positiveSeconds(
      "refreshTokenTtlSeconds",
      options.refreshTokenTtlSeconds,
      DEFAULT_REFRESH_TOKEN_TTL_SECONDS,
    );
    const rotation = options.refreshTokenRotation ?? "never";
    if (rotation !== "never" && rotation !== "always") {
      throw new TypeError(
        `refreshTokenRotation must be "never" or "always", got ${
          JSON.stringify(rotation)
        }`,
      );
    }
    this.#consent = checkConsent(options.consent ?? "approve", "consent");

    const clients = new Map<string, RegisteredClient>();
    for (const client of options.clients ?? [DEFAULT_CLIENT]) {
      if (typeof client?.clientId !== "string" || client.clientId === "") {
        throw new TypeError("Every client needs a non-empty string clientId");
      }
      if (clients.has(client.clientId)) {
        throw new TypeError(
          `Duplicate client "${client.clientId}": client ids must be unique`,
        );
      }
      if (
        client.clientSecret !== undefined &&
        (typeof client.clientSecret !== "string" || client.clientSecret === "")
      ) {
        throw new TypeError(
          `Client "${client.clientId}": clientSecret must be a non-empty string, or omitted for a public (PKCE) client`,
        );
      }
      const redirectUris = [...(client.redirectUris ?? [])];
      for (const redirectUri of redirectUris) {
        checkRegisteredRedirectUri(client.clientId, redirectUri);
      }
      clients.set(client.clientId, {
        clientId: client.clientId,
        clientSecret: client.clientSecret,
        redirectUris,
      });
    }
    if (clients.size === 0) {
      throw new TypeError("clients must list at least one client");
    }

    const users = new Map<string, RegisteredUser>();
    for (const user of options.users ?? [DEFAULT_USER]) {
      if (typeof user?.id !== "string" || user.id === "") {
        throw new TypeError("Every user needs a non-empty string id");
      }
      if (users.has(user.id)) {
        throw new TypeError(
          `Duplicate user "${user.id}": user ids must be unique`,
        );
      }
      users.set(user.id, { ...user });
    }
    if (users.size === 0) {
      throw new TypeError("users must list at least one user");
    }

    this.#clients = clients;
    this.#users = users;
    this.#firstClientId = clients.keys().next().value!;
    this.#firstUserId = users.keys().next().value!;
    this.#store = new TokenStore(
      this.#clock,
      accessTokenTtlSeconds,
      refreshTokenTtlSeconds,
    );
    this.#tokenConfig = {
      clients,
      store: this.#store,
      refreshTokenRotation: rotation,
    };

    this.fetch = (input, init) => {
      let request: FakeRequest;
      let answer: Answer | Promise<Answer>;
      try {
        request = fromFetchArguments(input, init);
        if (request.signal?.aborted) {
          return Promise.reject(request.signal.reason);
        }
        answer = this.#route(request);
      } catch (error) {
        return Promise.reject(error);
      }
      if (answer instanceof Promise) {
        const response = answer.then(FakeAccountsServer.#responseOrThrow);
        return request.signal ? raceAbort(response, request.signal) : response;
      }
      return answer === DROP
        ? Promise.reject(networkError())
        : Promise.resolve(answer);
    };
    this.handler = async (request) =>
      FakeAccountsServer.#responseOrThrow(
        await this.#route(fromRequest(request)),
      );
  }

  static #responseOrThrow(answer: Answer): Response {
    if (answer === DROP) throw networkError();
    return answer;
  }

  /**
   * Every request received, in order of arrival (a snapshot). Secrets,
   * codes, verifiers and tokens are never recorded.
   *
   * @example
   * ```ts
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * const server = new FakeAccountsServer();
   * server.issueTokens();
   * console.log(server.requests.length); // 0: issueTokens() is not a request
   * ```
   */
  get requests(): readonly FakeRequestRecord[] {
    return this.#log.snapshot();
  }

  /**
   * How many requests reached `/api/token` (CORS preflights aside), faulted
   * and rejected ones included.
   *
   * @example
   * ```ts
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * const server = new FakeAccountsServer();
   * const response = await server.fetch("https://accounts.spotify.com/api/token", { method: "POST" });
   * await response.body?.cancel();
   * console.log(server.tokenRequestCount); // 1
   * ```
   */
  get tokenRequestCount(): number {
    return this.#tokenRequestCount;
  }

  /**
   * The base URL while listening, without a trailing slash, e.g.
   * `http://127.0.0.1:41234`: use it as the providers' `accountsUrl`.
   *
   * @throws {Error} If the server is not listening.
   *
   * @example
   * ```ts
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * await using server = new FakeAccountsServer();
   * await server.listen();
   * console.log(server.url.startsWith("http://127.0.0.1:")); // true
   * ```
   */
  get url(): string {
    if (this.#url === undefined) {
      throw new Error(
        "FakeAccountsServer is not listening: call `await server.listen()` before reading `server.url` (or use `server.fetch` in-process)",
      );
    }
    return this.#url;
  }

  /**
   * Serves the fake over HTTP with `Deno.serve` (needs `--allow-net`).
   *
   * @param options Address and port to bind.
   * @returns The base URL, as {@linkcode FakeAccountsServer.prototype.url}.
   * @throws {Error} If the server is already listening.
   * @throws {Deno.errors.AddrInUse} If the port is taken.
   *
   * @example
   * ```ts
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * await using server = new FakeAccountsServer();
   * const accountsUrl = await server.listen({ hostname: "127.0.0.1", port: 0 });
   * console.log(accountsUrl === server.url); // true
   * ```
   */
  listen(options: FakeListenOptions = {}): Promise<string> {
    if (this.#listening !== undefined) {
      return Promise.reject(
        new Error(
          `FakeAccountsServer is already listening at ${this.#url}: close() it first`,
        ),
      );
    }
    // Deno.serve's graceful shutdown() waits for every request in flight,
    // so a client that sends a head and never its body could hold close()
    // forever; aborting this signal instead cuts every connection at once.
    const cut = new AbortController();
    const listening: Listening = {
      server: undefined!,
      cut,
      inFlight: 0,
      onIdle: undefined,
      release: () => {
        if (--listening.inFlight === 0) listening.onIdle?.();
      },
    };
    try {
      listening.server = Deno.serve({
        hostname: options.hostname ?? "127.0.0.1",
        port: options.port ?? 0,
        signal: cut.signal,
        onListen() {},
      }, (request, info) => {
        // Counted until the answer is delivered, so close() can wait for it
        // (on a Deno without `completed`, close() cuts at once).
        const completed = info.completed as Promise<void> | undefined;
        if (completed !== undefined) {
          listening.inFlight++;
          completed.then(listening.release, listening.release);
        }
        // Not an async function: a grant then costs one promise (the body),
        // which matters to throughput over HTTP.
        const answer = this.#route(fromServedRequest(request, cut.signal));
        if (!(answer instanceof Promise)) return servedResponse(answer);
        return answer.then(servedResponse, (error) => {
          // Cut by close(), or the client went away during a delay: nobody
          // reads this answer.
          if (cut.signal.aborted || request.signal.aborted) {
            return new Response(null, { status: 499 });
          }
          throw error;
        });
      });
    } catch (error) {
      return Promise.reject(error);
    }
    const { hostname, port } = listening.server.addr;
    this.#listening = listening;
    this.#url = `http://${
      hostname.includes(":") ? `[${hostname}]` : hostname
    }:${port}`;
    return Promise.resolve(this.#url);
  }

  /**
   * Stops serving over HTTP: waits for requests in progress to be answered,
   * for at most half a second, then cuts every connection still open (a
   * client that never sends its body or never reads the answer, a request
   * held by a `{ delayMs }` fault). Does nothing when not listening.
   * In-process `fetch` keeps working.
   *
   * @example
   * ```ts
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * const server = new FakeAccountsServer();
   * await server.listen();
   * await server.close();
   * ```
   */
  async close(): Promise<void> {
    const listening = this.#listening;
    if (listening === undefined) return;
    this.#listening = undefined;
    this.#url = undefined;
    if (listening.inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          listening.onIdle = undefined;
          resolve();
        }, CLOSE_GRACE_MS);
        listening.onIdle = () => {
          listening.onIdle = undefined;
          clearTimeout(timer);
          // `completed` settles as the answer is handed to the connection,
          // one turn of the event loop before it is written.
          setTimeout(resolve, 0);
        };
      });
    }
    listening.cut.abort();
    await listening.server.finished;
  }

  /**
   * Same as {@linkcode FakeAccountsServer.prototype.close}, for `await using`.
   *
   * @example
   * ```ts
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * {
   *   await using server = new FakeAccountsServer();
   *   await server.listen();
   * } // closed here
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  /**
   * Does what a browser does with an authorize URL, without one: the
   * simulated user signs in and approves or denies, and you get the callback
   * URL the real service would redirect to. Logged as an `"authorize"`
   * request, and subject to faults queued for that endpoint.
   *
   * @param url An authorize URL (`…/authorize?client_id=…`), any host.
   * @param options The user's decision and who signs in.
   * @returns The callback URL: `redirect_uri?code=…&state=…`, or
   * `redirect_uri?error=access_denied&state=…` on denial.
   * @throws {Error} If `/authorize` would show an error page instead; the
   * message contains the page's problem, e.g. `INVALID_CLIENT: Invalid
   * redirect URI`.
   * @throws {TypeError} If `url` is not an authorize URL, `user` is unknown
   * or `consent` is invalid; or for an injected network fault.
   *
   * @example
   * ```ts
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * const server = new FakeAccountsServer();
   * const callback = await server.authorize(
   *   "https://accounts.spotify.com/authorize?response_type=code" +
   *     "&client_id=test-client-id&redirect_uri=http%3A%2F%2F127.0.0.1%3A8888%2Fcallback" +
   *     "&scope=user-read-private&state=xyz",
   * );
   * console.log(callback); // "http://127.0.0.1:8888/callback?code=fake-code-1&state=xyz"
   * ```
   */
  async authorize(
    url: string | URL,
    options: FakeAuthorizeOptions = {},
  ): Promise<string> {
    const consent = checkConsent(
      options.consent ?? this.#consent,
      "options.consent",
    );
    const userId = options.user ?? this.#firstUserId;
    if (!this.#users.has(userId)) {
      throw new TypeError(
        `Unknown user ${JSON.stringify(userId)}: use one of ${
          [...this.#users.keys()].map((id) => JSON.stringify(id)).join(", ")
        } (the server's users option)`,
      );
    }
    const parsed = new URL(url);
    if (parsed.pathname !== "/authorize") {
      throw new TypeError(
        `${parsed.origin}${parsed.pathname} is not an authorize URL: expected a path of /authorize`,
      );
    }
    const request: FakeRequest = {
      method: "GET",
      pathname: parsed.pathname,
      url: parsed,
      header: () => null,
      text: () => "",
    };
    const answer = await this.#authorizeEndpoint(request, consent, userId);
    if (answer === DROP) throw networkError();
    const location = answer.headers.get("location");
    if (answer.status >= 300 && answer.status < 400 && location !== null) {
      return location;
    }
    const page = await answer.text();
    const problem = /<p class="error">(.*?)<\/p>/.exec(page)?.[1];
    if (answer.status === 400 && problem !== undefined) {
      throw new Error(
        `Spotify's /authorize would show an error page instead of redirecting: ${
          unescapeHtml(problem)
        }`,
      );
    }
    throw new Error(
      `Spotify's /authorize answered HTTP ${answer.status} without a redirect`,
    );
  }

  /**
   * Queues a fault for the next request(s) to an endpoint. Faults queued for
   * the same endpoint apply in the order they were queued, each `times`
   * times. CORS preflights never take a fault.
   *
   * With `endpoint: "me"` the fault hits the Web API (`GET /v1/me`, also
   * `/v1/me/`) before the token is checked, even a request without one, so
   * code that calls the Web API can be tested against rate limits and
   * outages; such answers carry `Access-Control-Allow-Origin: *` and do not
   * count in {@linkcode FakeAccountsServer.prototype.tokenRequestCount}.
   *
   * @param fault `{ status, body?, headers? }`, `"network"`, `{ delayMs }` or
   * `"malformed"`.
   * @param options How many times, and for which endpoint (`"token"`,
   * `"authorize"` or `"me"`).
   * @throws {TypeError} For an unknown fault or endpoint, or a value of the
   * wrong type (e.g. `{ status: "503" }`); the message shows the value and
   * its type.
   * @throws {RangeError} For a status outside 200–599, a negative delay, or a
   * `times` that is not a positive integer (or `Infinity`).
   *
   * @example Overload, then recovery
   * ```ts
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * const server = new FakeAccountsServer();
   * server.failNext({ status: 429, headers: { "retry-after": "1" } });
   * server.failNext("network", { times: 2 });
   * server.failNext({ status: 503 }, { endpoint: "authorize" });
   * ```
   *
   * @example Rate-limit the Web API
   * ```ts
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * const server = new FakeAccountsServer();
   * const { accessToken } = server.issueTokens();
   * server.failNext({ status: 429, headers: { "retry-after": "2" } }, { endpoint: "me" });
   * const response = await server.fetch("https://api.spotify.com/v1/me", {
   *   headers: { authorization: `Bearer ${accessToken}` },
   * });
   * console.log(response.status, response.headers.get("retry-after")); // 429 "2"
   * await response.body?.cancel();
   * ```
   */
  failNext(fault: FakeFault, options?: FakeFailNextOptions): void {
    const { times, endpoint } = checkFailNextOptions(options);
    this.#faults.add(checkFault(fault), endpoint, times);
  }

  /**
   * Issues tokens without a flow, to seed caches: a user token with a
   * refresh token by default, or an app token with `userId: null`.
   *
   * @param options Client, user, scope, PKCE-ness and the time of the
   * sign-in.
   * @returns The tokens, as a provider would store them; a user token
   * carries `authorizedAt` (the sign-in, Unix seconds).
   * @throws {TypeError} For an unknown client, user or scope, or an
   * `authorizedAt` that is not a number or is given for an app token.
   * @throws {RangeError} For an `authorizedAt` that is not a finite number
   * of seconds >= 0.
   *
   * @example
   * ```ts
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * const server = new FakeAccountsServer();
   * const token = server.issueTokens({ scope: "user-read-private" });
   * console.log(token.refreshToken); // "fake-refresh-1"
   * ```
   */
  issueTokens(options: FakeIssueTokensOptions = {}): TokenInfo {
    const clientId = options.clientId ?? this.#firstClientId;
    const client = this.#clients.get(clientId);
    if (client === undefined) {
      throw new TypeError(
        `Unknown client ${
          JSON.stringify(clientId)
        }: register it in the clients option`,
      );
    }
    const userId = options.userId === undefined
      ? this.#firstUserId
      : options.userId;
    const authorizedAtMs = checkAuthorizedAt(
      options.authorizedAt,
      userId === null,
    ) ?? this.#clock.now();
    if (userId === null) {
      const { token, expiresAtMs } = this.#store.issueAccessToken(
        clientId,
        undefined,
        "",
        undefined,
      );
      return { accessToken: token, expiresAt: expiresAtMs / 1000 };
    }
    if (!this.#users.has(userId)) {
      throw new TypeError(
        `Unknown user ${
          JSON.stringify(userId)
        }: register it in the users option`,
      );
    }
    const scopes = typeof options.scope === "string"
      ? options.scope.split(/[\s,]+/)
      : [...(options.scope ?? [])];
    const unique = [...new Set(scopes.filter((scope) => scope !== ""))];
    for (const scope of unique) {
      if (!KNOWN_SCOPES.has(scope)) {
        throw new TypeError(
          `Unknown scope ${
            JSON.stringify(scope)
          }: Spotify would answer INVALID_SCOPE`,
        );
      }
    }
    const scope = unique.join(" ");
    const grantId = this.#store.newGrantId();
    const { token, expiresAtMs } = this.#store.issueAccessToken(
      clientId,
      userId,
      scope,
      grantId,
    );
    const refreshToken = this.#store.issueRefreshToken(
      clientId,
      userId,
      scope,
      options.pkce ?? client.clientSecret === undefined,
      grantId,
      authorizedAtMs,
    );
    return {
      accessToken: token,
      expiresAt: expiresAtMs / 1000,
      refreshToken,
      scope,
      authorizedAt: authorizedAtMs / 1000,
    };
  }

  /**
   * Revokes a refresh token, as a user removing the app's access does:
   * refreshing with it then fails with `invalid_grant`
   * `Refresh token revoked`. Access tokens already issued keep working until
   * they expire.
   *
   * @param token A refresh token this server issued.
   * @returns `true` if the token was revoked now (an expired one too: it
   * then answers `Refresh token revoked`), `false` if the token is unknown,
   * rotated away or already revoked.
   *
   * @example
   * ```ts
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * const server = new FakeAccountsServer();
   * const { refreshToken } = server.issueTokens();
   * console.log(server.revokeRefreshToken(refreshToken!)); // true
   * ```
   */
  revokeRefreshToken(token: string): boolean {
    const record = this.#store.refreshTokens.get(token);
    if (record === undefined || record.status !== "active") return false;
    record.status = "revoked";
    return true;
  }

  /**
   * Tells what an access token was issued for. Expired tokens are still
   * described (compare `expiresAt` with your clock).
   *
   * @param token An access token.
   * @returns Client, user, scope and expiry; `undefined` if this server did
   * not issue the token, or it was revoked by a replayed code.
   *
   * @example
   * ```ts
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * const server = new FakeAccountsServer();
   * const { accessToken } = server.issueTokens({ scope: "user-read-email" });
   * console.log(server.inspectAccessToken(accessToken)?.userId); // "test-user"
   * ```
   */
  inspectAccessToken(token: string): FakeAccessTokenInfo | undefined {
    const record = this.#store.accessToken(token);
    if (record === undefined) return undefined;
    const info: {
      -readonly [K in keyof FakeAccessTokenInfo]: FakeAccessTokenInfo[K];
    } = {
      clientId: record.clientId,
      scope: record.scope,
      expiresAt: record.expiresAtMs / 1000,
    };
    if (record.userId !== undefined) info.userId = record.userId;
    return info;
  }

  /**
   * Tells what a refresh token was issued for, when its sign-in happened and
   * until when it can be used.
   *
   * @param token A refresh token.
   * @returns Client, user, scope, sign-in time, deadline and whether a
   * refresh with it would succeed now (`active`: not revoked, rotated away
   * or expired); `undefined` if this server never issued the token.
   *
   * @example
   * ```ts
   * import { FakeAccountsServer, FakeClock } from "@spotify-sdk/auth/testing";
   *
   * const clock = new FakeClock();
   * const server = new FakeAccountsServer({ clock });
   * const { refreshToken } = server.issueTokens({ authorizedAt: clock.now() / 1000 - 86_400 });
   * const info = server.inspectRefreshToken(refreshToken!);
   * console.log(info?.active, info?.expiresAt === clock.now() / 1000 - 86_400 + 15_552_000); // true true
   * ```
   */
  inspectRefreshToken(token: string): FakeRefreshTokenInfo | undefined {
    const store = this.#store;
    const record = store.refreshTokens.get(token);
    if (record === undefined) return undefined;
    return {
      clientId: record.clientId,
      userId: record.userId,
      scope: record.scope,
      authorizedAt: record.authorizedAtMs / 1000,
      expiresAt: store.refreshTokenExpiresAtMs(record) / 1000,
      active: record.status === "active" && !store.refreshTokenExpired(record),
    };
  }

  /**
   * Forgets everything that happened: issued codes and tokens, queued
   * faults, the request log and `tokenRequestCount`; the token counters
   * start again at 1. Afterwards the server behaves like a new one with the
   * same options. Options, and whether it is listening, do not change.
   *
   * @example
   * ```ts
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * const server = new FakeAccountsServer();
   * server.issueTokens();
   * server.reset();
   * console.log(server.issueTokens().accessToken); // "fake-access-1"
   * ```
   */
  reset(): void {
    this.#store.clear();
    this.#faults.clear();
    this.#log.clear();
    this.#tokenRequestCount = 0;
  }

  #route(request: FakeRequest): Answer | Promise<Answer> {
    switch (request.pathname) {
      case "/api/token":
        return this.#tokenEndpoint(request);
      case "/v1/me":
      case "/v1/me/":
        return this.#meEndpoint(request);
      case "/authorize":
        return this.#authorizeEndpoint(
          request,
          this.#consent,
          this.#firstUserId,
        );
      default:
        return notFound();
    }
  }

  /** Sets the logged request's status once the answer is known. */
  #settle(
    row: number,
    answer: Answer | Promise<Answer>,
  ): Answer | Promise<Answer> {
    const log = this.#log;
    if (!(answer instanceof Promise)) {
      log.setStatus(row, statusOf(answer));
      return answer;
    }
    return answer.then((settled) => {
      log.setStatus(row, statusOf(settled));
      return settled;
    });
  }

  #withFault(
    fault: FakeFault,
    cors: boolean,
    request: FakeRequest,
    answer: () => Answer | Promise<Answer>,
  ): Answer | Promise<Answer> {
    if (fault === "network") return DROP;
    if (fault === "malformed") return malformedResponse(cors);
    // Reading a served request's signal makes Deno warn; only delays need it.
    if ("delayMs" in fault) {
      return sleep(fault.delayMs, request.signal).then(answer);
    }
    return statusFaultResponse(fault.status, fault.body, fault.headers, cors);
  }

  #tokenEndpoint(request: FakeRequest): Answer | Promise<Answer> {
    if (request.method === "OPTIONS") return preflightResponse(TOKEN_METHODS);
    this.#tokenRequestCount++;
    const row = this.#log.add("token", this.#clock.now());
    const fault = this.#faults.size === 0
      ? undefined
      : this.#faults.take("token");
    if (request.method !== "POST") {
      const answer = () => methodNotAllowed(TOKEN_METHODS, true);
      return this.#settle(
        row,
        fault === undefined
          ? answer()
          : this.#withFault(fault, true, request, answer),
      );
    }
    const text = request.text();
    if (typeof text === "string") {
      return this.#settle(row, this.#tokenGrant(request, text, row, fault));
    }
    // Settled inside the callback: no second promise on the common path.
    return text.then((body) =>
      this.#settle(row, this.#tokenGrant(request, body, row, fault))
    );
  }

  #tokenGrant(
    request: FakeRequest,
    body: string,
    row: number,
    fault: FakeFault | undefined,
  ): Answer | Promise<Answer> {
    const form = isFormContentType(request.header("content-type"))
      ? new URLSearchParams(body)
      : EMPTY_FORM;
    const authorization = request.header("authorization");
    const grantType = form.get("grant_type");
    if (grantType !== null) this.#log.setGrantType(row, grantType);
    const clientId = requestedClientId(authorization, form);
    if (clientId !== undefined) this.#log.setClientId(row, clientId);
    const answer = (): Response | Promise<Response> => {
      const outcome = handleTokenGrant(this.#tokenConfig, form, authorization);
      return outcome instanceof Promise
        ? outcome.then(toTokenResponse)
        : toTokenResponse(outcome);
    };
    return fault === undefined
      ? answer()
      : this.#withFault(fault, true, request, answer);
  }

  #meEndpoint(request: FakeRequest): Answer | Promise<Answer> {
    if (request.method === "OPTIONS") return preflightResponse(ME_METHODS);
    const row = this.#log.add("me", this.#clock.now());
    // Before the token check: a rate limit hits requests without a token too.
    // Only GET and HEAD consume it: the fault is for "the next GET /v1/me".
    const readsProfile = request.method === "GET" || request.method === "HEAD";
    const fault = this.#faults.size === 0 || !readsProfile
      ? undefined
      : this.#faults.take("me");
    const answer = (): Response => {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return methodNotAllowed(ME_METHODS, true);
      }
      const outcome = handleMe(request, this.#store, this.#users);
      if (outcome.clientId !== undefined) {
        this.#log.setClientId(row, outcome.clientId);
      }
      return webApiResponse(outcome.status, outcome.body);
    };
    return this.#settle(
      row,
      fault === undefined
        ? answer()
        : this.#withFault(fault, true, request, answer),
    );
  }

  #authorizeEndpoint(
    request: FakeRequest,
    consent: FakeConsent,
    userId: string,
  ): Answer | Promise<Answer> {
    const row = this.#log.add("authorize", this.#clock.now());
    const clientId = request.url.searchParams.get("client_id");
    if (clientId !== null) this.#log.setClientId(row, clientId);
    const fault = this.#faults.size === 0
      ? undefined
      : this.#faults.take("authorize");
    const answer = (): Response => {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return methodNotAllowed("GET, HEAD", false);
      }
      const outcome = decideAuthorize(
        {
          clients: this.#clients,
          store: this.#store,
          codeTtlSeconds: this.#codeTtlSeconds,
        },
        request.url.searchParams,
        consent,
        userId,
      );
      if (outcome.problem !== undefined) return errorPage(outcome.problem);
      return new Response(null, {
        status: 302,
        headers: { location: outcome.location, "cache-control": "no-store" },
      });
    };
    return this.#settle(
      row,
      fault === undefined
        ? answer()
        : this.#withFault(fault, false, request, answer),
    );
  }
}

/** What `Deno.serve` sends for an answer: a dropped connection can't be. */
function servedResponse(answer: Answer): Response {
  return answer === DROP ? unreadableResponse() : answer;
}

function toTokenResponse(outcome: TokenOutcome): Response {
  return tokenEndpointResponse(outcome.status, outcome.body);
}
