// Cookies for UserSessions: a strict reader of the `Cookie` request header
// and a writer of `Set-Cookie` values with the attributes the contract fixes.

/** RFC 6265 `cookie-name` (an RFC 7230 token). */
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 6265 `cookie-value` without the optional quotes. */
const COOKIE_VALUE = /^[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*$/;

/** Whether `name` may be used as a cookie name. */
export function isCookieName(name: unknown): name is string {
  return typeof name === "string" && COOKIE_NAME.test(name);
}

/**
 * Returns the value of cookie `name` in the request's `Cookie` header, or
 * `undefined` when it is absent, malformed, or present more than once.
 *
 * A second cookie of the same name is how a sibling subdomain "tosses" a
 * cookie of its own in front of ours (login CSRF); since we cannot tell
 * which one is genuine, neither is believed.
 */
export function readCookie(
  headers: Headers,
  name: string,
): string | undefined {
  const header = headers.get("cookie");
  if (header === null) return undefined;
  let found: string | undefined;
  let count = 0;
  // `;` per RFC 6265; `,` too, since some HTTP/2 stacks join separate
  // cookie headers with it (a cookie value can never hold one).
  for (const pair of header.split(/[;,]/)) {
    const separator = pair.indexOf("=");
    if (separator === -1) continue;
    if (pair.slice(0, separator).trim() !== name) continue;
    count++;
    let value = pair.slice(separator + 1).trim();
    if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
      value = value.slice(1, -1);
    }
    found = COOKIE_VALUE.test(value) ? value : undefined;
  }
  return count === 1 ? found : undefined;
}

/** What {@linkcode setCookie} writes besides name and value. */
export interface CookieAttributes {
  /** Seconds until the browser drops the cookie; `0` removes it now. */
  maxAge: number;
  /** Send the cookie over https only. */
  secure: boolean;
}

/**
 * A `Set-Cookie` value: `name=value; HttpOnly; SameSite=Lax; Path=/;
 * Max-Age=<n>` and `; Secure` when asked. `HttpOnly` keeps the id away
 * from scripts, `SameSite=Lax` lets the top-level redirect back from
 * Spotify carry it while cross-site subrequests do not.
 */
export function setCookie(
  name: string,
  value: string,
  attributes: CookieAttributes,
): string {
  const cookie = `${name}=${value}; HttpOnly; SameSite=Lax; Path=/; Max-Age=${
    Math.max(0, Math.ceil(attributes.maxAge))
  }`;
  return attributes.secure ? `${cookie}; Secure` : cookie;
}
