// Spotify's redirect URI rules (2025): exact string match; https except on
// loopback; loopback only as an IP literal; a loopback URI registered
// without a port matches the same URI on any port.

const LOOPBACK_URI =
  /^(https?:\/\/)(127(?:\.\d{1,3}){3}|\[::1\])(?::(\d{1,5}))?([/?#].*)?$/i;

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
 * Whether `requested` (from `/authorize`) matches the `registered` URI.
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
  return requestedParts !== null &&
    requestedParts[1] === registeredParts[1] &&
    requestedParts[2] === registeredParts[2] &&
    (requestedParts[4] ?? "") === (registeredParts[4] ?? "");
}
