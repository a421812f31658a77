// Spotify's redirect URI rules (2025): exact string match; https except on
// loopback; loopback only as an IP literal; a loopback URI registered
// without a port matches the same URI on any port.

const LOOPBACK_URI =
  /^(https?:\/\/)(127(?:\.\d{1,3}){3}|\[::1\])(?::(\d{1,5}))?([/?#].*)?$/i;

/** A port as a browser would send it: 1–65535, no leading zeros. */
const CANONICAL_PORT = /^[1-9]\d{0,4}$/;

/** Whitespace or control characters, which no redirect URI may contain. */
// deno-lint-ignore no-control-regex -- control characters are what it finds
const UNSAFE_CHARACTERS = /[\u0000-\u0020\u007f]/;

function isLoopbackHostname(hostname: string): boolean {
  return hostname === "[::1]" || /^127(?:\.\d{1,3}){3}$/.test(hostname);
}

function isLocalhost(hostname: string): boolean {
  const host = hostname.toLowerCase().replace(/\.$/, "");
  return host === "localhost" || host.endsWith(".localhost");
}

/**
 * Checks a redirect URI the way Spotify's dashboard does when it is
 * registered.
 *
 * @throws {TypeError} With a message that says what to register instead.
 */
export function checkRegisteredRedirectUri(
  clientId: string,
  redirectUri: string,
): void {
  if (typeof redirectUri !== "string" || UNSAFE_CHARACTERS.test(redirectUri)) {
    throw new TypeError(
      `Client "${clientId}": redirect URI ${
        JSON.stringify(redirectUri)
      } must be a string without spaces or control characters: register e.g. "http://127.0.0.1:8888/callback"`,
    );
  }
  let url: URL;
  try {
    url = new URL(redirectUri);
  } catch {
    throw new TypeError(
      `Client "${clientId}": redirect URI "${redirectUri}" is not an absolute URL: register e.g. "http://127.0.0.1:8888/callback"`,
    );
  }
  const port = url.port === "" ? "PORT" : url.port;
  const path = `${url.pathname}${url.search}`;
  if (isLocalhost(url.hostname)) {
    throw new TypeError(
      `Client "${clientId}": redirect URI "${redirectUri}" uses localhost, which Spotify rejects: register the loopback IP literal instead, e.g. "http://127.0.0.1:${port}${path}" or "http://[::1]:${port}${path}"`,
    );
  }
  if (url.protocol === "http:" && !isLoopbackHostname(url.hostname)) {
    throw new TypeError(
      `Client "${clientId}": redirect URI "${redirectUri}" uses plain http on a host that is not loopback, which Spotify rejects: register "https://${url.host}${path}", or for a local app "http://127.0.0.1:${port}${path}"`,
    );
  }
}

/**
 * Whether `requested` (from `/authorize`) matches the `registered` URI. A
 * port-less loopback registration matches any real port (1–65535, written
 * as a browser would), never a malformed one such as `99999`.
 */
export function redirectUriMatches(
  registered: string,
  requested: string,
): boolean {
  if (registered === requested) return true;
  const registeredParts = LOOPBACK_URI.exec(registered);
  if (registeredParts === null || registeredParts[3] !== undefined) {
    return false;
  }
  const requestedParts = LOOPBACK_URI.exec(requested);
  if (requestedParts === null) return false;
  const port = requestedParts[3];
  if (
    port !== undefined && !(CANONICAL_PORT.test(port) && Number(port) <= 65535)
  ) {
    return false;
  }
  return requestedParts[1] === registeredParts[1] &&
    requestedParts[2] === registeredParts[2] &&
    (requestedParts[4] ?? "") === (registeredParts[4] ?? "");
}

/**
 * The URL to redirect to, or `undefined` when `redirectUri` does not parse
 * (the `/authorize` error page, never a crash).
 */
export function parseRedirectUri(redirectUri: string): URL | undefined {
  try {
    return new URL(redirectUri);
  } catch {
    return undefined;
  }
}
