/**
 * PKCE sign-in for single-page apps: {@linkcode startBrowserLogin} sends the
 * user to Spotify, {@linkcode completeBrowserLogin} finishes on the page
 * Spotify redirects back to.
 *
 * @module
 */

import { AuthorizationCode } from "../auth/authorization_code.ts";
import { adoptToken } from "../auth/_provider_internals.ts";
import { SpotifyAuthError } from "../auth/errors.ts";
import type { TokenInfo } from "../auth/token.ts";
import type { StorageLike } from "./web_storage_token_cache.ts";

/** Where pending sign-ins live: `spotify-sdk:login:<state>`. */
const ENTRY_PREFIX = "spotify-sdk:login:";
/** How long a sign-in may take, from start to callback. */
const ENTRY_LIFETIME_MS = 600_000;
/** Query parameters of a callback, removed from the address bar. */
const CALLBACK_PARAMS = ["code", "state", "error", "error_description"];

/** Options of {@linkcode startBrowserLogin}. */
export interface StartBrowserLoginOptions {
  /** Scopes for this sign-in (default: the provider's `scope`). */
  scope?: string | readonly string[];
  /**
   * Show Spotify's consent page even if the user approved before.
   *
   * @default {false}
   */
  showDialog?: boolean;
  /**
   * Where the pending sign-in (state, verifier) is kept until the callback.
   *
   * @default {globalThis.sessionStorage}
   */
  storage?: StorageLike;
  /**
   * Navigates to the authorize URL.
   *
   * @default {(url) => location.assign(url)}
   */
  assign?: (url: string) => void | Promise<void>;
}

/** Options of {@linkcode completeBrowserLogin}. */
export interface CompleteBrowserLoginOptions {
  /**
   * The URL the page was loaded with.
   *
   * @default {location.href}
   */
  url?: string | URL;
  /**
   * Where {@linkcode startBrowserLogin} kept the pending sign-in.
   *
   * @default {globalThis.sessionStorage}
   */
  storage?: StorageLike;
  /**
   * Replaces the address bar's URL (to remove the callback parameters).
   *
   * @default {(url) => history.replaceState(null, "", url)}
   */
  replaceState?: (url: string) => void;
}

/** The pending sign-in as stored, JSON under `spotify-sdk:login:<state>`. */
interface PendingLoginRecord {
  code_verifier: string;
  redirect_uri: string;
  /** `Date.now()` when the sign-in started. */
  created_at: number;
}

/**
 * Completions in flight in this document, by callback URL: React StrictMode
 * (and any double call) must share one exchange, whichever provider each
 * call was given, since the code and the pending entry can only be used once.
 */
const completions = new Map<
  string,
  { auth: AuthorizationCode; completion: Promise<TokenInfo> }
>();

/**
 * Starts a PKCE sign-in: creates a state and a code verifier, keeps them in
 * `sessionStorage` (for 10 minutes, keyed by state, surviving the trip to
 * Spotify and reloads), then navigates to Spotify's authorize page.
 *
 * @param auth An `AuthorizationCode` created with `pkce: true`; its
 * `redirectUri` is the page that calls {@linkcode completeBrowserLogin}.
 * @param options Scopes, `showDialog`, and the injectable storage and
 * navigation.
 * @returns A promise that settles once the navigation was started.
 * @throws {TypeError} If `auth` does not use PKCE, or there is no
 * `sessionStorage` / `location` here and none was passed.
 *
 * @example A "Log in with Spotify" button
 * ```ts
 * import { AuthorizationCode } from "@spotify-sdk/auth";
 * import {
 *   startBrowserLogin,
 *   WebStorageTokenCache,
 * } from "@spotify-sdk/auth/browser";
 *
 * const auth = new AuthorizationCode({
 *   clientId: "your-client-id",
 *   redirectUri: "http://127.0.0.1:8080/callback",
 *   pkce: true,
 *   scope: "user-read-private",
 *   tokenCache: new WebStorageTokenCache({ key: "example:start" }),
 * });
 *
 * // The button's click handler: off to Spotify's consent page.
 * export function logIn(): Promise<void> {
 *   return startBrowserLogin(auth, { showDialog: true });
 * }
 * ```
 */
export async function startBrowserLogin(
  auth: AuthorizationCode,
  options: StartBrowserLoginOptions = {},
): Promise<void> {
  const storage = resolveStorage(options.storage, "startBrowserLogin");
  const assign = options.assign ?? defaultAssign();
  const request = await auth.createAuthorizationRequest({
    ...(options.scope === undefined ? {} : { scope: options.scope }),
    ...(options.showDialog === undefined
      ? {}
      : { showDialog: options.showDialog }),
  });
  if (request.codeVerifier === undefined) {
    throw new TypeError(
      "startBrowserLogin: create the AuthorizationCode with { pkce: true }: a browser app cannot keep a client secret",
    );
  }
  const now = Date.now();
  pruneExpiredEntries(storage, now);
  const record: PendingLoginRecord = {
    code_verifier: request.codeVerifier,
    redirect_uri: auth.redirectUri,
    created_at: now,
  };
  storage.setItem(ENTRY_PREFIX + request.state, JSON.stringify(record));
  await assign(request.url);
}

/**
 * Finishes a sign-in on the redirect page: checks the callback's `state`
 * against the pending sign-in, exchanges the code with its verifier, and
 * stores the token in `auth`'s cache. Call it on every page load; without
 * `code` or `error` in the URL it does nothing.
 *
 * - Single use: the pending entry is removed before the exchange, so a
 *   replayed callback (the back button, a reload of an old URL) is a
 *   `state_mismatch`, without a request.
 * - Concurrent calls for the same URL in one document (React StrictMode)
 *   share one exchange and get the same token, whichever provider each
 *   call was given; every one of them stores it in its own cache.
 * - Whatever the outcome, `code`, `state`, `error` and `error_description`
 *   are removed from the address bar.
 *
 * @param auth The `AuthorizationCode` (`pkce: true`) whose cache gets the
 * token.
 * @param options The URL, storage and address-bar update, injectable.
 * @returns The new token, or `undefined` when the URL is not a callback.
 * @throws {SpotifyAuthError} `state_mismatch` when the state is missing,
 * unknown, already used or older than 10 minutes (no request is made);
 * `access_denied` (or the callback's other `error`); `missing_code`; the
 * exchange's errors (`invalid_grant`, `network_error`, …).
 * @throws {TypeError} If `url` is not a URL, or there is no
 * `sessionStorage` / `location` / `history` here and none was passed.
 *
 * @example On every page load
 * ```ts
 * import { AuthorizationCode } from "@spotify-sdk/auth";
 * import {
 *   completeBrowserLogin,
 *   WebStorageTokenCache,
 * } from "@spotify-sdk/auth/browser";
 *
 * const auth = new AuthorizationCode({
 *   clientId: "your-client-id",
 *   redirectUri: "http://127.0.0.1:8080/callback",
 *   pkce: true,
 *   tokenCache: new WebStorageTokenCache({ key: "example:complete" }),
 * });
 *
 * export async function onPageLoad(): Promise<void> {
 *   // A no-op unless Spotify just redirected here; throws access_denied,
 *   // state_mismatch, … for a failed sign-in.
 *   const token = await completeBrowserLogin(auth);
 *   if (token !== undefined) console.log("signed in, scopes:", token.scope);
 * }
 * ```
 */
export function completeBrowserLogin(
  auth: AuthorizationCode,
  options: CompleteBrowserLoginOptions = {},
): Promise<TokenInfo | undefined> {
  let url: URL;
  try {
    url = parseUrl(options.url ?? defaultHref());
  } catch (error) {
    return Promise.reject(error);
  }
  const params = url.searchParams;
  if (!params.has("code") && !params.has("error")) {
    return Promise.resolve(undefined);
  }
  const key = url.href;
  const inFlight = completions.get(key);
  if (inFlight !== undefined) {
    if (inFlight.auth === auth) return inFlight.completion;
    // Another instance made the exchange: this one signs in with its token.
    return inFlight.completion.then(async (token) => {
      await adoptToken(auth, token);
      return token;
    });
  }
  let storage: StorageLike;
  let replaceState: (url: string) => void;
  try {
    storage = resolveStorage(options.storage, "completeBrowserLogin");
    replaceState = options.replaceState ?? defaultReplaceState();
  } catch (error) {
    return Promise.reject(error);
  }
  // The address bar and the map are settled before callers resume, but
  // never synchronously: a second call made right after the first
  // (StrictMode) must still see the callback URL and join this completion.
  const completion: Promise<TokenInfo> = exchangeCallback(auth, url, storage)
    .finally(() => {
      if (completions.get(key)?.completion === completion) {
        completions.delete(key);
      }
      try {
        replaceState(cleanUrl(url));
      } catch {
        // The sign-in's outcome matters more than the address bar.
      }
    });
  completions.set(key, { auth, completion });
  return completion;
}

async function exchangeCallback(
  auth: AuthorizationCode,
  url: URL,
  storage: StorageLike,
): Promise<TokenInfo> {
  const state = url.searchParams.get("state");
  const pending = state === null || state === ""
    ? undefined
    : takeEntry(storage, state);
  if (pending === undefined) {
    throw new SpotifyAuthError(
      "state_mismatch",
      "The callback's state matches no sign-in started in this tab in the last 10 minutes (unknown, already used or expired): it may be forged; start the login again",
    );
  }
  // State checked; now `error=` and the code, as parseResponseUrl does.
  const code = AuthorizationCode.parseResponseUrl(url, {
    expectedState: state!,
  });
  return await auth.exchangeCode(code, {
    codeVerifier: pending.code_verifier,
    redirectUri: pending.redirect_uri,
  });
}

/**
 * Removes the pending entry of `state` and returns it when it is well
 * formed and under 10 minutes old. Other entries are left alone: an
 * attacker's callback must not cancel the user's own sign-in.
 */
function takeEntry(
  storage: StorageLike,
  state: string,
): PendingLoginRecord | undefined {
  const key = ENTRY_PREFIX + state;
  const text = storage.getItem(key);
  if (text === null) return undefined;
  storage.removeItem(key);
  const record = parseEntry(text);
  if (record === undefined || isExpired(record, Date.now())) return undefined;
  return record;
}

function parseEntry(text: string): PendingLoginRecord | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof value !== "object" || value === null) return undefined;
  const { code_verifier, redirect_uri, created_at } = value as Record<
    string,
    unknown
  >;
  if (
    typeof code_verifier !== "string" || code_verifier === "" ||
    typeof redirect_uri !== "string" || typeof created_at !== "number" ||
    !Number.isFinite(created_at)
  ) {
    return undefined;
  }
  return { code_verifier, redirect_uri, created_at };
}

function isExpired(record: PendingLoginRecord, now: number): boolean {
  // A creation time far in the future is as untrustworthy as an old one.
  return Math.abs(now - record.created_at) > ENTRY_LIFETIME_MS;
}

/** Drops abandoned sign-ins (older than 10 minutes) of this tab. */
function pruneExpiredEntries(storage: StorageLike, now: number): void {
  if (typeof storage.key !== "function" || typeof storage.length !== "number") {
    return;
  }
  const expired: string[] = [];
  for (let index = 0; index < storage.length; index++) {
    const key = storage.key(index);
    if (key === null || !key.startsWith(ENTRY_PREFIX)) continue;
    const text = storage.getItem(key);
    const record = text === null ? undefined : parseEntry(text);
    if (record === undefined || isExpired(record, now)) expired.push(key);
  }
  for (const key of expired) storage.removeItem(key);
}

function parseUrl(url: string | URL): URL {
  try {
    return new URL(url);
  } catch {
    throw new TypeError(
      'completeBrowserLogin: "url" must be the full URL of the page, e.g. location.href',
    );
  }
}

/** `url` without the callback's parameters, keeping the rest and the hash. */
function cleanUrl(url: URL): string {
  const cleaned = new URL(url);
  for (const name of CALLBACK_PARAMS) cleaned.searchParams.delete(name);
  return cleaned.href;
}

interface BrowserGlobals {
  sessionStorage?: StorageLike;
  location?: { href: string; assign(url: string): void };
  history?: { replaceState(data: unknown, unused: string, url: string): void };
}

/**
 * Reads a browser global, or `undefined` where reading it throws (Deno's
 * `location` without `--location`, storage blocked by the browser).
 */
function browserGlobal<K extends keyof BrowserGlobals>(
  name: K,
): BrowserGlobals[K] {
  try {
    return (globalThis as BrowserGlobals)[name];
  } catch {
    return undefined;
  }
}

function resolveStorage(
  storage: StorageLike | undefined,
  caller: string,
): StorageLike {
  if (storage !== undefined) return storage;
  const session = browserGlobal("sessionStorage");
  if (session === undefined) {
    throw new TypeError(
      `${caller}: no sessionStorage in this runtime: pass { storage }`,
    );
  }
  return session;
}

function defaultAssign(): (url: string) => void {
  const location = browserGlobal("location");
  if (location === undefined || typeof location.assign !== "function") {
    throw new TypeError(
      "startBrowserLogin: no location in this runtime: pass { assign: (url) => … } to navigate",
    );
  }
  return (url) => location.assign(url);
}

function defaultHref(): string {
  const href = browserGlobal("location")?.href;
  if (href === undefined) {
    throw new TypeError(
      "completeBrowserLogin: no location in this runtime: pass { url }",
    );
  }
  return href;
}

function defaultReplaceState(): (url: string) => void {
  const history = browserGlobal("history");
  if (history === undefined || typeof history.replaceState !== "function") {
    throw new TypeError(
      "completeBrowserLogin: no history in this runtime: pass { replaceState: (url) => … }",
    );
  }
  return (url) => history.replaceState(null, "", url);
}
