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
// Type only: authorization_code.ts imports this module for its
// `authorizeLocal()` method, and a value import back would be a cycle.
import type { AuthorizationCode } from "./authorization_code.ts";
import { registerLocalLogin } from "./_local_login.ts";
import { SpotifyAuthError } from "./errors.ts";
import { describeType, describeValue } from "./provider_options.ts";
import type { TokenInfo } from "./token.ts";

const OWNER = "authorizeLocal";
const DEFAULT_TIMEOUT_MS = 300_000;
const MAX_TIMEOUT_MS = 2_147_483_647;
/** A pasted line longer than this cannot be a callback URL. */
const MAX_PASTED_LINE = 8 * 1024;
/** How long the closing server lets the browser's page finish. */
const CLOSE_GRACE_MS = 1_000;
/** The same after a timeout or abort, which must end the login promptly. */
const INTERRUPTED_CLOSE_GRACE_MS = 250;

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
  /**
   * Where a callback URL can be pasted, one per line, for a browser on
   * another machine (SSH, a container) whose redirect to the loopback
   * address never reaches this one: after logging in there, the user copies
   * the address the browser ends on (`http://127.0.0.1:…/callback?code=…`)
   * and pastes it here. A pasted URL is checked like the browser's own
   * redirect (same path, same state); a line that is not such a URL, or has
   * another state, is reported on stderr and the wait goes on. The stream is
   * cancelled when the login settles.
   *
   * By default, stdin when it is a terminal (`Deno.stdin.isTerminal()`) and
   * not locked by another reader; `false` never reads anything. Reading
   * stdin needs no permission. After the login, `Deno.stdin.readable` is
   * cancelled (`prompt()` and `Deno.stdin.read()` still work), and since
   * Deno cannot interrupt a terminal read under way, the next line typed
   * still goes to it and is dropped: pass `false` if the program reads the
   * terminal right after logging in.
   *
   * @default {Deno.stdin.readable when stdin is a terminal}
   *
   * @example Feed pasted lines from a stream (here: a test playing the user)
   * ```ts
   * import { AuthorizationCode, authorizeLocal } from "@spotify-sdk/auth";
   * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
   *
   * await using server = new FakeAccountsServer();
   * await using auth = new AuthorizationCode({
   *   clientId: "test-client-id",
   *   redirectUri: "http://127.0.0.1/callback",
   *   pkce: true,
   *   accountsUrl: await server.listen(),
   * });
   * const pasted = new TransformStream<Uint8Array, Uint8Array>();
   * const typing = pasted.writable.getWriter();
   * const token = await authorizeLocal(auth, {
   *   openBrowser: false,
   *   pastedUrl: pasted.readable,
   *   // The browser "on another machine": its redirect is pasted instead.
   *   onAuthorizationUrl: async (url) => {
   *     const callback = await server.authorize(url);
   *     await typing.write(new TextEncoder().encode(`${callback}\n`));
   *   },
   * });
   * ```
   */
  pastedUrl?: ReadableStream<Uint8Array> | false;
}

async function loginOnLoopback(
  auth: AuthorizationCode,
  options: AuthorizeLocalOptions = {},
): Promise<TokenInfo> {
  // Duck-typed rather than `instanceof`: see the type-only import above.
  if (
    typeof auth?.createAuthorizationRequest !== "function" ||
    typeof auth?.parseResponseUrl !== "function" ||
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
 * end it. No page contains a code, state, token or secret. A client cannot
 * hold the login open either: a connection gets one request, must send its
 * head within 10 s, and is cut when the login ends, so the promise settles
 * within `timeoutMs` (or on `signal`) whatever clients do.
 *
 * While it waits, with the default `onAuthorizationUrl`, stderr says so and
 * gives the local time it gives up at. When stdin is a terminal (or with
 * `pastedUrl`), the callback URL can also be pasted there: for a browser on
 * another machine (SSH), whose redirect cannot reach this one.
 *
 * Permissions: `--allow-net=127.0.0.1` (with the port, if the URI has one;
 * plus the accounts host for the exchange), and `--allow-run` for the browser
 * command when `openBrowser` is on.
 *
 * @param auth The provider whose redirect URI, scopes and cache are used; the
 * token is stored in its cache.
 * @param options Browser, URL callback, timeout, abort signal, dialog, state,
 * where to read pasted URLs.
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
export const authorizeLocal: (
  auth: AuthorizationCode,
  options?: AuthorizeLocalOptions,
) => Promise<TokenInfo> = /* @__PURE__ */ registerLocalLogin(loginOnLoopback);

interface Settings {
  openBrowser: boolean;
  onAuthorizationUrl: ((url: string) => void | Promise<void>) | undefined;
  timeoutMs: number;
  signal: AbortSignal | undefined;
  showDialog: boolean;
  state: string | undefined;
  pastedUrl: ReadableStream<Uint8Array> | false | undefined;
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
    pastedUrl,
  } = options;
  const got = (value: unknown) => `got ${describeValue(value)}`;
  if (typeof openBrowser !== "boolean") {
    throw new TypeError(
      `${OWNER}: "openBrowser" must be a boolean, ${got(openBrowser)}`,
    );
  }
  if (typeof showDialog !== "boolean") {
    throw new TypeError(
      `${OWNER}: "showDialog" must be a boolean, ${got(showDialog)}`,
    );
  }
  if (
    onAuthorizationUrl !== undefined && typeof onAuthorizationUrl !== "function"
  ) {
    throw new TypeError(
      `${OWNER}: "onAuthorizationUrl" must be a function that shows the URL, ${
        got(onAuthorizationUrl)
      }`,
    );
  }
  const timeoutRule =
    `"timeoutMs" must be a number of milliseconds between 1 and ${MAX_TIMEOUT_MS}, such as ${DEFAULT_TIMEOUT_MS}`;
  if (typeof timeoutMs !== "number") {
    throw new TypeError(`${OWNER}: ${timeoutRule}, ${got(timeoutMs)}`);
  }
  if (
    !Number.isFinite(timeoutMs) || timeoutMs <= 0 || timeoutMs > MAX_TIMEOUT_MS
  ) {
    throw new RangeError(`${OWNER}: ${timeoutRule}, ${got(timeoutMs)}`);
  }
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(
      `${OWNER}: "signal" must be an AbortSignal, ${got(signal)}`,
    );
  }
  if (state !== undefined && (typeof state !== "string" || state === "")) {
    // The value is not shown: a state is a secret of the login.
    throw new TypeError(
      `${OWNER}: "state" must be a non-empty string, got ${
        describeType(state)
      }`,
    );
  }
  if (
    pastedUrl !== undefined && pastedUrl !== false &&
    !(pastedUrl instanceof ReadableStream)
  ) {
    throw new TypeError(
      `${OWNER}: "pastedUrl" must be a ReadableStream<Uint8Array> of pasted lines, or false to read none, ${
        got(pastedUrl)
      }`,
    );
  }
  if (pastedUrl instanceof ReadableStream && pastedUrl.locked) {
    throw new TypeError(
      `${OWNER}: "pastedUrl" is locked by another reader: release it, or pass a stream nobody else reads`,
    );
  }
  return {
    openBrowser,
    onAuthorizationUrl,
    timeoutMs,
    signal,
    showDialog,
    state,
    pastedUrl,
  };
}

/** The stream of pasted lines: the option, else stdin if it is a terminal. */
function pasteSource(
  option: ReadableStream<Uint8Array> | false | undefined,
): ReadableStream<Uint8Array> | undefined {
  if (option === false) return undefined;
  if (option !== undefined) return option;
  try {
    if (!Deno.stdin.isTerminal()) return undefined;
    const stdin = Deno.stdin.readable;
    // Someone else reads stdin (or an earlier login cancelled it): leave it.
    return stdin.locked ? undefined : stdin;
  } catch {
    return undefined;
  }
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
  #pasteReader: ReadableStreamDefaultReader<Uint8Array> | undefined;

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
    const deadline = new Date(Date.now() + timeoutMs);
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
    let pasting: Promise<void> = Promise.resolve();
    try {
      ({ shown, pasting } = await this.#start(server, deadline));
      const outcome = await this.#outcome.promise;
      if (!outcome.ok) throw outcome.error;
      return outcome.token;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      this.#stop.abort();
      // Cancelled in #settle; also here for a failure before the wait.
      this.#pasteReader?.cancel().catch(() => {});
      await server.close({
        graceMs: this.#interrupted
          ? INTERRUPTED_CLOSE_GRACE_MS
          : CLOSE_GRACE_MS,
      });
      await pasting;
      // Let the URL callback finish (e.g. a fetch reading its page), unless
      // the login was cut short: then it may never finish.
      if (this.#settled && !this.#interrupted) await shown;
    }
  }

  /**
   * Builds the authorize request for the bound port, shows it, and starts
   * reading pasted URLs.
   */
  async #start(
    server: LoopbackServer,
    deadline: Date,
  ): Promise<{ shown: Promise<void>; pasting: Promise<void> }> {
    this.#redirectUri = this.#redirect.uriFor(server.port);
    const request = await this.#auth.createAuthorizationRequest({
      state: this.#settings.state,
      showDialog: this.#settings.showDialog,
      redirectUri: this.#redirectUri,
    });
    this.#state = request.state;
    this.#codeVerifier = request.codeVerifier;
    // Settled while the request was being built (timeout, abort).
    if (this.#settled) {
      return { shown: Promise.resolve(), pasting: Promise.resolve() };
    }
    const paste = pasteSource(this.#settings.pastedUrl);
    const browser = this.#settings.openBrowser
      ? launchBrowser(request.url)
      : undefined;
    const show = this.#settings.onAuthorizationUrl ??
      ((url: string) =>
        printAuthorizationUrl(url, browser, {
          redirectUri: this.#redirectUri,
          deadline,
          pasting: paste !== undefined,
        }));
    // A callback that rejects ends the login; the wait does not block on it.
    const shown = Promise.resolve()
      .then(() => show(request.url))
      .then(
        () => {},
        (error) => this.#settle({ ok: false, interrupted: false, error }),
      );
    const pasting = paste === undefined
      ? Promise.resolve()
      : this.#readPasted(paste.getReader());
    return { shown, pasting };
  }

  async #callback(url: URL): Promise<Response> {
    if (this.#claimed || this.#settled) return pageResponse("already_handled");
    if (this.#state === undefined) return pageResponse("state_mismatch");
    let code: string;
    try {
      code = this.#auth.parseResponseUrl(url, { expectedState: this.#state });
    } catch (error) {
      if (hasCode(error, "state_mismatch")) {
        // Someone else's request: answer it, keep waiting for the real one.
        return pageResponse("state_mismatch");
      }
      this.#claimed = true;
      this.#settle({ ok: false, interrupted: false, error });
      return pageResponse(
        hasCode(error, "access_denied") ? "denied" : "failed",
      );
    }
    return pageResponse(await this.#exchange(code));
  }

  /** Exchanges the code of an accepted callback and ends the login. */
  async #exchange(code: string): Promise<"success" | "failed"> {
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
      return "failed";
    }
    // A timeout or abort during the exchange has already ended the login.
    if (this.#settled) return "failed";
    this.#settle({ ok: true, token });
    return "success";
  }

  /** Reads pasted lines until the login settles or the stream ends. */
  async #readPasted(
    reader: ReadableStreamDefaultReader<Uint8Array>,
  ): Promise<void> {
    this.#pasteReader = reader;
    const decoder = new TextDecoder();
    let line = "";
    let tooLong = false;
    try {
      while (!this.#settled) {
        const { value, done } = await reader.read();
        if (done) break;
        const parts = decoder.decode(value, { stream: true }).split("\n");
        for (let i = 0; i < parts.length; i++) {
          const last = i === parts.length - 1;
          if (!tooLong) line += parts[i];
          if (line.length > MAX_PASTED_LINE) {
            tooLong = true;
            line = "";
          }
          if (last) break;
          if (tooLong) {
            reportPaste(
              "the pasted line is too long to be a callback URL; still waiting",
            );
          } else {
            await this.#pasted(line.trim());
          }
          line = "";
          tooLong = false;
          if (this.#settled) return;
        }
      }
    } catch {
      // The stream failed or was cancelled: the browser may still call back.
    } finally {
      reader.releaseLock();
    }
  }

  /** Handles one pasted line as the browser's redirect. */
  async #pasted(line: string): Promise<void> {
    if (line === "") return;
    const example = `${this.#redirectUri}?code=…`;
    if (this.#claimed || this.#settled) {
      reportPaste("the login is already being completed; the line was ignored");
      return;
    }
    if (!URL.canParse(line)) {
      reportPaste(
        `the pasted line is not a URL: paste the whole address the browser shows after you log in (${example}); still waiting`,
      );
      return;
    }
    const url = new URL(line);
    if (url.pathname !== this.#redirect.pathname) {
      reportPaste(
        `the pasted URL is not the login callback: paste the address the browser ends on after you log in (${example}), not the one you opened; still waiting`,
      );
      return;
    }
    let code: string;
    try {
      code = this.#auth.parseResponseUrl(url, { expectedState: this.#state });
    } catch (error) {
      if (hasCode(error, "state_mismatch")) {
        reportPaste(
          "the pasted URL belongs to another login (its state does not match this one): paste the address from the login started here; still waiting",
        );
        return;
      }
      if (hasCode(error, "missing_code")) {
        reportPaste(
          `the pasted URL has no code: paste the whole address the browser shows after you log in (${example}); still waiting`,
        );
        return;
      }
      this.#claimed = true;
      this.#settle({ ok: false, interrupted: false, error });
      return;
    }
    await this.#exchange(code);
  }

  #settle(outcome: Outcome): void {
    if (this.#settled) return;
    this.#settled = true;
    this.#interrupted = !outcome.ok && outcome.interrupted;
    // Stop reading stdin now: a pending read would keep the process alive.
    this.#pasteReader?.cancel().catch(() => {});
    this.#outcome.resolve(outcome);
  }
}

function hasCode(error: unknown, code: string): boolean {
  return error instanceof SpotifyAuthError && error.code === code;
}

function reportPaste(message: string): void {
  // Never echoes the line: it may hold an authorization code.
  console.error(`${OWNER}: ${message}`);
}

function printAuthorizationUrl(
  url: string,
  browser: ReturnType<typeof launchBrowser> | undefined,
  waiting: { redirectUri: string; deadline: Date; pasting: boolean },
): void {
  const instruction = browser === undefined
    ? "Open this URL in your browser to log in to Spotify:"
    : browser.opened
    ? "Opening your browser to log in to Spotify. If it does not open, visit:"
    : `Could not open a browser (${browser.reason}). Open this URL to log in to Spotify:`;
  const paste = waiting.pasting
    ? `\nBrowser on another machine? After logging in there, paste the address it ends on (${waiting.redirectUri}?code=…) here and press Enter.`
    : "";
  console.error(
    `${instruction}\n\n  ${url}\n\nNow waiting for the browser to return to ${waiting.redirectUri} … gives up at ${
      formatClock(waiting.deadline)
    }; Ctrl-C to cancel.${paste}\n`,
  );
}

/** Local `HH:MM`, with the date in front when it is not today. */
function formatClock(time: Date): string {
  const pad = (n: number) => String(n).padStart(2, "0");
  const clock = `${pad(time.getHours())}:${pad(time.getMinutes())}`;
  const today = new Date();
  if (time.toDateString() === today.toDateString()) return clock;
  return `${time.getFullYear()}-${pad(time.getMonth() + 1)}-${
    pad(time.getDate())
  } ${clock}`;
}

function formatDuration(ms: number): string {
  if (ms >= 60_000 && ms % 60_000 === 0) return `${ms / 60_000} min`;
  if (ms >= 1000 && ms % 1000 === 0) return `${ms / 1000} s`;
  return `${ms} ms`;
}
