// The redirect URI rules of authorizeLocal(): the URI must name a loopback
// listener this process can open, and the authorize request, the callback
// check and the code exchange must all agree on one exact string.

const OWNER = "authorizeLocal";
const EXAMPLE_PORT = "8080";

/** A checked loopback redirect URI. */
export interface LoopbackRedirect {
  /** The address to bind: `127.0.0.1` (also for `localhost`) or `::1`. */
  readonly bindHostname: string;
  /** The host as written in the URI, lower case: `127.0.0.1`, `[::1]` or `localhost`. */
  readonly host: string;
  /** The port to bind; `0` when the URI has none (any free port). */
  readonly port: number;
  /** The path the callback arrives on. */
  readonly pathname: string;
  /** Whether the URI uses `localhost`, which Spotify no longer accepts. */
  readonly isLocalhost: boolean;
  /** The URI with `127.0.0.1` (or `[::1]`) in place of `localhost`. */
  readonly ipLiteralSuggestion: string;
  /**
   * The redirect URI for the port actually bound: the original string when it
   * has a port, else the original string with `:port` inserted.
   */
  uriFor(boundPort: number): string;
  /** Whether a request's `Host` header names this listener. */
  acceptsHost(hostHeader: string | null, boundPort: number): boolean;
}

const LOOPBACK_HOSTS = new Set(["127.0.0.1", "[::1]", "localhost"]);

/**
 * Checks that `redirectUri` can be served by a loopback listener; runs before
 * any socket is opened.
 *
 * @throws {TypeError} With a message that says what to register in the
 * Spotify dashboard instead.
 */
export function parseLoopbackRedirectUri(
  redirectUri: string,
): LoopbackRedirect {
  if (typeof redirectUri !== "string" || !URL.canParse(redirectUri)) {
    throw new TypeError(
      `${OWNER}: the redirect URI is not an absolute URL: register a loopback URI such as "http://127.0.0.1:${EXAMPLE_PORT}/callback" in the Spotify dashboard and pass it as redirectUri`,
    );
  }
  const url = new URL(redirectUri);
  // Never echo a password back: show the URI without its user info.
  const shown = url.username === "" && url.password === ""
    ? redirectUri
    : withoutUserInfo(url);
  const path = url.pathname;
  const portText = url.port === "" ? EXAMPLE_PORT : url.port;
  const loopbackHost = url.hostname === "[::1]" ? "[::1]" : "127.0.0.1";
  const suggestion = `http://${loopbackHost}:${portText}${path}${url.search}`;
  const register =
    `register "${suggestion}" in the Spotify dashboard (Redirect URIs) and use it as redirectUri`;

  if (url.protocol === "https:") {
    throw new TypeError(
      `${OWNER}: the redirect URI "${shown}" uses https, but authorizeLocal receives the callback itself with a plain-http server on this machine: ${register}`,
    );
  }
  if (url.protocol !== "http:") {
    throw new TypeError(
      `${OWNER}: the redirect URI "${shown}" must start with "http://" on a loopback host: ${register}`,
    );
  }
  if (url.username !== "" || url.password !== "") {
    throw new TypeError(
      `${OWNER}: the redirect URI "${shown}" must not contain a user name or password: ${register}`,
    );
  }
  if (redirectUri.includes("#")) {
    throw new TypeError(
      `${OWNER}: the redirect URI "${shown}" has a fragment ("#…"), which OAuth redirect URIs must not have: ${register}`,
    );
  }
  const host = url.hostname.toLowerCase();
  if (!LOOPBACK_HOSTS.has(host)) {
    throw new TypeError(
      `${OWNER}: the redirect URI "${shown}" is not on this machine (host "${url.hostname}"): authorizeLocal needs a loopback redirect URI: ${register}`,
    );
  }
  // `new URL()` hides a default port (":80") and an empty one (":"), so the
  // authority is read from the string itself.
  const authority = /^http:\/\/([^/?#]*)/i.exec(redirectUri)![1];
  const portMatch = /:(\d*)$/.exec(
    authority.startsWith("[")
      ? authority.slice(authority.indexOf("]"))
      : authority,
  );
  const explicitPort = portMatch === null ? undefined : portMatch[1];
  if (explicitPort === "") {
    throw new TypeError(
      `${OWNER}: the redirect URI "${shown}" has an empty port: write a port, or leave out the ":" to use a free port on each login`,
    );
  }
  const port = explicitPort === undefined ? 0 : Number(explicitPort);
  if (explicitPort !== undefined && port === 0) {
    throw new TypeError(
      `${OWNER}: the redirect URI "${shown}" has port 0: leave the port out (register "http://${loopbackHost}${path}${url.search}") to use a free port on each login`,
    );
  }
  const prefixLength = "http://".length + authority.length;

  return {
    bindHostname: host === "[::1]" ? "::1" : "127.0.0.1",
    host,
    port,
    pathname: url.pathname,
    isLocalhost: host === "localhost",
    ipLiteralSuggestion: suggestion,
    uriFor(boundPort: number): string {
      if (explicitPort !== undefined) return redirectUri;
      return `${redirectUri.slice(0, prefixLength)}:${boundPort}${
        redirectUri.slice(prefixLength)
      }`;
    },
    acceptsHost(hostHeader: string | null, boundPort: number): boolean {
      if (hostHeader === null) return false;
      const value = hostHeader.toLowerCase();
      // A browser leaves out the default port.
      return value === `${host}:${boundPort}` ||
        (boundPort === 80 && value === host);
    },
  };
}

function withoutUserInfo(url: URL): string {
  const copy = new URL(url);
  copy.username = "";
  copy.password = "";
  return copy.href;
}
