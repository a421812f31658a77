/**
 * Loopback login for CLIs: {@linkcode authorizeLocal}.
 *
 * @module
 */

import { openBrowser as launchBrowser } from "./_browser.ts";
import { pageResponse } from "./_loopback_pages.ts";
import {
  type LoopbackRedirect,
  parseLoopbackRedirectUri,
} from "./_loopback_redirect.ts";
import { type LoopbackServer, serveLoopback } from "./_loopback_server.ts";
import { AuthorizationCode } from "./authorization_code.ts";
import { SpotifyAuthError } from "./errors.ts";
import type { TokenInfo } from "./token.ts";

const OWNER = "authorizeLocal";
const DEFAULT_TIMEOUT_MS = 300_000;
const MAX_TIMEOUT_MS = 2_147_483_647;

/**
 * Options of {@linkcode authorizeLocal}.
 *
 * @example Show the URL instead of opening a browser
 * ```ts
 * import {
 *   AuthorizationCode,
 *   authorizeLocal,
 *   type AuthorizeLocalOptions,
 * } from "@spotify-sdk/auth";
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * await using server = new FakeAccountsServer();
 * await using auth = new AuthorizationCode({
 *   clientId: "test-client-id",
 *   redirectUri: "http://127.0.0.1/callback",
 *   pkce: true,
 *   accountsUrl: await server.listen(),
 * });
 * const options: AuthorizeLocalOptions = {
 *   openBrowser: false,
 *   timeoutMs: 60_000,
 *   // A real CLI prints the URL; here we play the browser and follow it.
 *   onAuthorizationUrl: async (url) => await (await fetch(url)).body?.cancel(),
 * };
 * const token = await authorizeLocal(auth, options);
 * ```
 */
export interface AuthorizeLocalOptions {
  /**
   * Open the authorize URL in a browser: `$BROWSER` when set (readable with
   * `--allow-env=BROWSER`), else `xdg-open`, `open` (macOS) or `cmd /c start`
   * (Windows). Needs `--allow-run` for that command; without it, or when the
   * browser cannot be started, the login goes on and the URL is shown.
   *
   * @default {true}
   */
  openBrowser?: boolean;
  /**
   * Called with the authorize URL once the loopback server listens, also
   * when the browser was opened. When it returns a promise, a rejection ends
   * the login with that error, and `authorizeLocal` waits for it before
   * settling (except on timeout or abort).
   *
   * @default {prints the URL to stderr with a one-line instruction}
   */
  onAuthorizationUrl?: (url: string) => void | Promise<void>;
  /**
   * Give up after this many milliseconds: the promise rejects with a
   * {@linkcode SpotifyAuthError} whose `code` is `"timeout"`.
   *
   * @default {300_000}
   */
  timeoutMs?: number;
  /** Abort the login: the promise rejects with `signal.reason`. */
  signal?: AbortSignal;
  /**
   * Show Spotify's consent page even if the user approved the app before.
   *
   * @default {false}
   */
  showDialog?: boolean;
  /**
   * The CSRF `state` to send and check on the callback.
   *
   * @default {32 random bytes, base64url}
   */
  state?: string;
}

/**
 * Runs the authorization code flow for a CLI: starts a server on the loopback
 * redirect URI, opens (or shows) Spotify's authorize page, waits for the
 * callback, checks its state, exchanges the code, answers the browser with a
 * small success or failure page, and closes the server on every path.
 *
 * The provider's redirect URI must be `http://` on `127.0.0.1`, `[::1]` or
 * `localhost` (accepted with a warning on stderr: Spotify requires an IP
 * literal), with no user info or fragment. Without a port, a free port is
 * bound and used in the authorize request and the exchange (Spotify accepts
 * any port for a loopback URI registered without one). Only the loopback
 * address is bound; other paths get `404`; requests whose `Host` is not the
 * listener's get `400`; a callback with a missing or wrong state gets an
 * error page (`400`) and the login keeps waiting, so a forged request cannot
 * end it. No page contains a code, state, token or secret.
 *
 * Permissions: `--allow-net=127.0.0.1` (with the port, if the URI has one;
 * plus the accounts host for the exchange), and `--allow-run` for the browser
 * command when `openBrowser` is on.
 *
 * @param auth The provider whose redirect URI, scopes and cache are used; the
 * token is stored in its cache.
 * @param options Browser, URL callback, timeout, abort signal, dialog, state.
 * @returns The new token, with its refresh token.
 * @throws {TypeError} If the redirect URI is not a loopback `http://` URI
 * (before any socket is opened), or an option has the wrong type.
 * @throws {RangeError} If `timeoutMs` is not a positive number of milliseconds.
 * @throws {SpotifyAuthError} `access_denied` when the user refuses, `timeout`,
 * or the exchange's error (`invalid_grant`, `network_error`, …).
 * @throws {Deno.errors.NotCapable} Without `--allow-net` for the listener (the
 * message names the flag); `Deno.errors.AddrInUse` when the port is taken.
 *
 * @example A whole login against the fake accounts service, offline
 * ```ts
 * import { AuthorizationCode, authorizeLocal } from "@spotify-sdk/auth";
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * await using server = new FakeAccountsServer();
 * await server.listen({ hostname: "127.0.0.1", port: 0 });
 * await using auth = new AuthorizationCode({
 *   clientId: "test-client-id",
 *   redirectUri: "http://127.0.0.1/callback", // no port: a free one is used
 *   scope: "user-read-private",
 *   pkce: true,
 *   accountsUrl: server.url,
 * });
 * const token = await authorizeLocal(auth, {
 *   openBrowser: false,
 *   // Play the browser: follow the fake's redirect to the loopback callback.
 *   onAuthorizationUrl: async (url) => {
 *     const page = await fetch(url);
 *     await page.body?.cancel();
 *   },
 * });
 * console.log(token.refreshToken !== undefined); // true
 * ```
 *
 * @example Log in to Spotify from a CLI
 * ```ts ignore
 * import { AuthorizationCode } from "@spotify-sdk/auth";
 *
 * // SPOTIFY_SDK_REDIRECT_URI=http://127.0.0.1:8080/callback
 * const auth = new AuthorizationCode({ scope: "user-read-private" });
 * const token = await auth.authorizeLocal(); // opens the browser
 * ```
 */
export async function authorizeLocal(
  auth: AuthorizationCode,
  options: AuthorizeLocalOptions = {},
): Promise<TokenInfo> {
  if (
    typeof auth?.createAuthorizationRequest !== "function" ||
    typeof auth?.exchangeCode !== "function"
  ) {
    throw new TypeError(
      `${OWNER}: pass an AuthorizationCode provider as the first argument`,
    );
  }
  const settings = checkOptions(options);
  const redirect = parseLoopbackRedirectUri(auth.redirectUri);
  if (redirect.isLocalhost) {
    console.error(
      `${OWNER}: warning: the redirect URI "${auth.redirectUri}" uses localhost, which Spotify no longer accepts; register "${redirect.ipLiteralSuggestion}" in the Spotify dashboard and use it instead`,
    );
  }
  settings.signal?.throwIfAborted();
  return await new LocalLogin(auth, redirect, settings).run();
}

interface Settings {
  openBrowser: boolean;
  onAuthorizationUrl: ((url: string) => void | Promise<void>) | undefined;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  showDialog: boolean;
  state: string | undefined;
}

function checkOptions(options: AuthorizeLocalOptions): Settings {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(`${OWNER}: "options" must be an object`);
  }
  const {
    openBrowser = true,
    onAuthorizationUrl,
    timeoutMs = DEFAULT_TIMEOUT_MS,
    signal,
    showDialog = false,
    state,
  } = options;
  if (typeof openBrowser !== "boolean") {
    throw new TypeError(`${OWNER}: "openBrowser" must be a boolean`);
  }
  if (typeof showDialog !== "boolean") {
    throw new TypeError(`${OWNER}: "showDialog" must be a boolean`);
  }
  if (
    onAuthorizationUrl !== undefined && typeof onAuthorizationUrl !== "function"
  ) {
    throw new TypeError(
      `${OWNER}: "onAuthorizationUrl" must be a function that shows the URL`,
    );
  }
  if (
    typeof timeoutMs !== "number" || !Number.isFinite(timeoutMs) ||
    timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_MS
  ) {
    throw new RangeError(
      `${OWNER}: "timeoutMs" must be a number of milliseconds between 1 and ${MAX_TIMEOUT_MS}, such as ${DEFAULT_TIMEOUT_MS}`,
    );
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`${OWNER}: "signal" must be an AbortSignal`);
  }
  if (state !== undefined && (typeof state !== "string" || state === "")) {
    throw new TypeError(`${OWNER}: "state" must be a non-empty string`);
  }
  return {
    openBrowser,
    onAuthorizationUrl,
    timeoutMs,
    signal,
    showDialog,
    state,
  };
}

type Outcome =
  | { ok: true; token: TokenInfo }
  | { ok: false; error: unknown; interrupted: boolean };

/** One login: the listener, the wait, the exchange. */
class LocalLogin {
  readonly #auth: AuthorizationCode;
  readonly #redirect: LoopbackRedirect;
  readonly #settings: Settings;
  readonly #outcome = Promise.withResolvers<Outcome>();
  // Aborted when the login ends, to stop an exchange still in flight.
  readonly #stop = new AbortController();
  #settled = false;
  #interrupted = false;
  /** Set once a callback with the right state has arrived. */
  #claimed = false;
  #state: string | undefined;
  #codeVerifier: string | undefined;
  #redirectUri = "";

  constructor(
    auth: AuthorizationCode,
    redirect: LoopbackRedirect,
    settings: Settings,
  ) {
    this.#auth = auth;
    this.#redirect = redirect;
    this.#settings = settings;
  }

  async run(): Promise<TokenInfo> {
    const { signal, timeoutMs } = this.#settings;
    const server = serveLoopback(this.#redirect, (url) => this.#callback(url));
    const timer = setTimeout(() => {
      this.#settle({
        ok: false,
        interrupted: true,
        error: new SpotifyAuthError(
          "timeout",
          `The login did not finish within ${
            formatDuration(timeoutMs)
          }: run it again and complete it in the browser`,
        ),
      });
    }, timeoutMs);
    const onAbort = () =>
      this.#settle({ ok: false, interrupted: true, error: signal!.reason });
    signal?.addEventListener("abort", onAbort, { once: true });
    let shown: Promise<void> = Promise.resolve();
    try {
      ({ shown } = await this.#start(server));
      const outcome = await this.#outcome.promise;
      if (!outcome.ok) throw outcome.error;
      return outcome.token;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      this.#stop.abort();
      await server.close();
      // Let the URL callback finish (e.g. a fetch reading its page), unless
      // the login was cut short: then it may never finish.
      if (this.#settled && !this.#interrupted) await shown;
    }
  }

  /** Builds the authorize request for the bound port and shows it. */
  async #start(server: LoopbackServer): Promise<{ shown: Promise<void> }> {
    this.#redirectUri = this.#redirect.uriFor(server.port);
    const request = await this.#auth.createAuthorizationRequest({
      state: this.#settings.state,
      showDialog: this.#settings.showDialog,
      redirectUri: this.#redirectUri,
    });
    this.#state = request.state;
    this.#codeVerifier = request.codeVerifier;
    const browser = this.#settings.openBrowser
      ? launchBrowser(request.url)
      : undefined;
    const show = this.#settings.onAuthorizationUrl ??
      ((url: string) => printAuthorizationUrl(url, browser));
    // A callback that rejects ends the login; the wait does not block on it.
    const shown = Promise.resolve()
      .then(() => show(request.url))
      .then(
        () => {},
        (error) => this.#settle({ ok: false, interrupted: false, error }),
      );
    return { shown };
  }

  async #callback(url: URL): Promise<Response> {
    if (this.#claimed || this.#settled) return pageResponse("already_handled");
    if (this.#state === undefined) return pageResponse("state_mismatch");
    let code: string;
    try {
      code = AuthorizationCode.parseResponseUrl(url, {
        expectedState: this.#state,
      });
    } catch (error) {
      if (
        error instanceof SpotifyAuthError && error.code === "state_mismatch"
      ) {
        // Someone else's request: answer it, keep waiting for the real one.
        return pageResponse("state_mismatch");
      }
      this.#claimed = true;
      this.#settle({ ok: false, interrupted: false, error });
      return pageResponse(
        error instanceof SpotifyAuthError && error.code === "access_denied"
          ? "denied"
          : "failed",
      );
    }
    this.#claimed = true;
    let token: TokenInfo;
    try {
      token = await this.#auth.exchangeCode(code, {
        codeVerifier: this.#codeVerifier,
        redirectUri: this.#redirectUri,
        signal: this.#stop.signal,
      });
    } catch (error) {
      this.#settle({ ok: false, interrupted: false, error });
      return pageResponse("failed");
    }
    // A timeout or abort during the exchange has already ended the login.
    if (this.#settled) return pageResponse("failed");
    this.#settle({ ok: true, token });
    return pageResponse("success");
  }

  #settle(outcome: Outcome): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#interrupted = !outcome.ok && outcome.interrupted;
    this.#outcome.resolve(outcome);
  }
}

function printAuthorizationUrl(
  url: string,
  browser: ReturnType<typeof launchBrowser> | undefined,
): void {
  const instruction = browser === undefined
    ? "Open this URL in your browser to log in to Spotify:"
    : browser.opened
    ? "Opening your browser to log in to Spotify. If it does not open, visit:"
    : `Could not open a browser (${browser.reason}). Open this URL to log in to Spotify:`;
  console.error(`${instruction}\n\n  ${url}\n`);
}

function formatDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}
