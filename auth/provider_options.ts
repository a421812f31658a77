/**
 * Options shared by {@linkcode ClientCredentials} and
 * {@linkcode AuthorizationCode}.
 *
 * @module
 */

import type { Clock, TokenCache } from "./token.ts";

/**
 * Options every provider accepts.
 *
 * @example Everything at its default, credentials given explicitly
 * ```ts
 * import { ClientCredentials, type ProviderOptions } from "@spotify-sdk/auth";
 *
 * const options: ProviderOptions = {
 *   clientId: "your-client-id",
 *   clientSecret: "your-client-secret",
 *   skewSeconds: 30,
 *   timeoutMs: 10_000,
 *   maxRetries: 3,
 *   retryDelayMs: 500,
 * };
 * const auth = new ClientCredentials(options);
 * ```
 */
export interface ProviderOptions {
  /**
   * The app's client ID.
   *
   * @default {env SPOTIFY_SDK_CLIENT_ID}
   */
  clientId?: string;
  /**
   * The app's client secret. Not with `pkce: true` (a `TypeError`); a
   * secret that only comes from the environment is ignored with PKCE.
   *
   * @default {env SPOTIFY_SDK_CLIENT_SECRET}
   */
  clientSecret?: string;
  /**
   * Where tokens are kept: any object with `get()` and `set()` methods
   * (checked at construction).
   *
   * @default {new InMemoryTokenCache()}
   */
  tokenCache?: TokenCache;
  /**
   * Refresh this many seconds before the token's `expiresAt`.
   *
   * @default {30}
   */
  skewSeconds?: number;
  /**
   * Time limit of one HTTP attempt, in milliseconds.
   *
   * @default {10_000}
   */
  timeoutMs?: number;
  /**
   * Retries after a network error, a timeout, a 5xx or a 429.
   *
   * @default {3}
   */
  maxRetries?: number;
  /**
   * First backoff in milliseconds; doubles per retry, capped at 8 s, with
   * full jitter. A 429's `Retry-After` is honoured instead.
   *
   * @default {500}
   */
  retryDelayMs?: number;
  /**
   * The `fetch` every HTTP call goes through (a proxy, a test fake, …).
   *
   * @default {globalThis.fetch}
   */
  fetch?: typeof fetch;
  /**
   * Base URL of the accounts service: the token endpoint is
   * `${accountsUrl}/api/token`, the authorize page `${accountsUrl}/authorize`.
   *
   * @default {"https://accounts.spotify.com"}
   */
  accountsUrl?: string;
  /**
   * Time source in milliseconds.
   *
   * @default {Date}
   */
  clock?: Clock;
}

/**
 * Options of a provider's `getAccessToken()`.
 *
 * @example Force a new token
 * ```ts
 * import { ClientCredentials } from "@spotify-sdk/auth";
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * const auth = new ClientCredentials({
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   fetch: server.fetch,
 * });
 * const token = await auth.getAccessToken({
 *   forceRefresh: true,
 *   signal: AbortSignal.timeout(5_000),
 * });
 * ```
 */
export interface GetAccessTokenOptions {
  /**
   * Ignore the cached token and fetch or refresh a new one.
   *
   * @default {false}
   */
  forceRefresh?: boolean;
  /** Stop waiting when this signal aborts (rejects with its reason). */
  signal?: AbortSignal;
}

// ---------------------------------------------------------------------------
// Checks shared by the providers' constructors. Misconfiguration is reported
// at construction, with the offending value and its type, so `"1000"` never
// reads like a valid 1000 and `tokenCache: {}` never fails on first use.
// Not re-exported by mod.ts.

/**
 * Describes a value and its type for an error message, e.g.
 * `the string "1000"`, `the number -1`, `an object`. Strings are cut to 60
 * characters; never pass a secret.
 */
export function describeValue(value: unknown): string {
  switch (typeof value) {
    case "string": {
      const shown = value.length > 60 ? `${value.slice(0, 60)}…` : value;
      return value === ""
        ? "an empty string"
        : `the string ${JSON.stringify(shown)}`;
    }
    case "number":
      return `the number ${value}`;
    case "bigint":
      return `the bigint ${value}n`;
    case "boolean":
      return `the boolean ${value}`;
    case "undefined":
      return "undefined";
    case "symbol":
      return "a symbol";
    case "function":
      return "a function";
  }
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const name = Object.getPrototypeOf(value)?.constructor?.name;
  return typeof name === "string" && name !== "" && name !== "Object"
    ? `an instance of ${name}`
    : "an object";
}

/** The type of a value only, for options whose value must not be shown. */
export function describeType(value: unknown): string {
  if (typeof value === "string") {
    return value === "" ? "an empty string" : "a string";
  }
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `a ${typeof value}`;
}

/** What a numeric option must be. */
export interface NumberRule {
  /** Unit in the message: `milliseconds`, `seconds`, … */
  unit?: string;
  /** Smallest allowed value. */
  min: number;
  /** Whether `min` itself is excluded (`> min` instead of `>= min`). */
  exclusive?: boolean;
  /** Whether only whole numbers are allowed. */
  integer?: boolean;
}

/**
 * Checks an optional numeric option; `undefined` passes.
 *
 * @throws {TypeError} If the value is not a number.
 * @throws {RangeError} If it is a number out of range (NaN included).
 */
export function checkNumberOption(
  owner: string,
  name: string,
  value: unknown,
  rule: NumberRule,
): void {
  if (value === undefined) return;
  const kind = rule.integer
    ? "a whole number"
    : `a number${rule.unit ? ` of ${rule.unit}` : ""}`;
  const expected = `"${name}" must be ${kind} ${
    rule.exclusive ? ">" : ">="
  } ${rule.min}`;
  const got = `got ${describeValue(value)}`;
  if (typeof value !== "number") {
    throw new TypeError(`${owner}: ${expected}, ${got}`);
  }
  const inRange = rule.exclusive ? value > rule.min : value >= rule.min;
  if (
    !Number.isFinite(value) || !inRange ||
    (rule.integer && !Number.isInteger(value))
  ) {
    throw new RangeError(`${owner}: ${expected}, ${got}`);
  }
}

/**
 * Checks the options every provider accepts, before anything else is
 * resolved (so a wrong type is named, not mistaken for a missing value).
 *
 * @throws {TypeError} If an option has the wrong type.
 * @throws {RangeError} If a numeric option is out of range.
 */
export function checkProviderOptions(
  owner: string,
  options: ProviderOptions,
): void {
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `${owner}: options must be an object, got ${describeValue(options)}`,
    );
  }
  checkStringOption(owner, "clientId", options.clientId, true);
  checkStringOption(owner, "clientSecret", options.clientSecret, false);
  checkTokenCache(owner, options.tokenCache);
  checkNumberOption(owner, "skewSeconds", options.skewSeconds, {
    unit: "seconds",
    min: 0,
  });
  checkNumberOption(owner, "timeoutMs", options.timeoutMs, {
    unit: "milliseconds",
    min: 0,
    exclusive: true,
  });
  checkNumberOption(owner, "maxRetries", options.maxRetries, {
    min: 0,
    integer: true,
  });
  checkNumberOption(owner, "retryDelayMs", options.retryDelayMs, {
    unit: "milliseconds",
    min: 0,
  });
  resolveFetch(owner, options.fetch);
  if (
    options.accountsUrl !== undefined && typeof options.accountsUrl !== "string"
  ) {
    throw new TypeError(
      `${owner}: "accountsUrl" must be a string such as "https://accounts.spotify.com", got ${
        describeValue(options.accountsUrl)
      }`,
    );
  }
  const clock: unknown = options.clock;
  if (
    clock !== undefined &&
    typeof (clock as { now?: unknown } | null)?.now !== "function"
  ) {
    throw new TypeError(
      `${owner}: "clock" must have a now() method returning milliseconds (like Date), got ${
        describeValue(clock)
      }`,
    );
  }
}

function checkStringOption(
  owner: string,
  name: string,
  value: unknown,
  showValue: boolean,
): void {
  if (value === undefined || (typeof value === "string" && value !== "")) {
    return;
  }
  throw new TypeError(
    `${owner}: "${name}" must be a non-empty string, got ${
      showValue ? describeValue(value) : describeType(value)
    }`,
  );
}

function checkTokenCache(owner: string, cache: unknown): void {
  if (cache === undefined) return;
  const methods = cache as Record<string, unknown> | null;
  const usable = (typeof cache === "object" || typeof cache === "function") &&
    cache !== null;
  const problem = !usable
    ? `got ${describeValue(cache)}`
    : typeof methods!.get !== "function"
    ? `got ${describeValue(cache)} without a get() method`
    : typeof methods!.set !== "function"
    ? `got ${describeValue(cache)} without a set() method`
    : ["lock", "delete"].find((name) =>
      methods![name] !== undefined && typeof methods![name] !== "function"
    );
  if (problem === undefined) return;
  if (problem === "lock" || problem === "delete") {
    throw new TypeError(
      `${owner}: "tokenCache.${problem}" must be a function when present, got ${
        describeValue(methods![problem])
      }`,
    );
  }
  throw new TypeError(
    `${owner}: "tokenCache" must be a TokenCache with get() and set() methods (e.g. new InMemoryTokenCache()), ${problem}`,
  );
}

/**
 * Checks the options only `AuthorizationCode` has that must be settled
 * before credentials are resolved: `pkce` decides whether a secret is read.
 *
 * @throws {TypeError} If `pkce` is not a boolean, or is `true` next to an
 * explicit `clientSecret`.
 */
export function checkPkceOptions(
  owner: string,
  options: { pkce?: unknown; clientSecret?: unknown },
): boolean {
  const { pkce } = options;
  if (pkce !== undefined && typeof pkce !== "boolean") {
    throw new TypeError(
      `${owner}: "pkce" must be true or false, got ${describeValue(pkce)}`,
    );
  }
  if (pkce === true && options.clientSecret !== undefined) {
    throw new TypeError(
      `${owner}: "pkce: true" is a public client, which must not send a client secret: pass either pkce: true or clientSecret, not both`,
    );
  }
  return pkce === true;
}

const LOOPBACK_IP_HOSTS = new Set(["127.0.0.1", "[::1]"]);

/**
 * Checks a redirect URI: absolute, no surrounding whitespace, `https`, or
 * `http` on a loopback host (`127.0.0.1`, `[::1]`, or `localhost`, which
 * `authorizeLocal` warns about).
 *
 * @param fromEnv Whether the value came from `SPOTIFY_SDK_REDIRECT_URI`.
 * @returns The URI, unchanged.
 * @throws {TypeError} If the URI is none of these.
 */
export function checkRedirectUriOption(
  owner: string,
  redirectUri: string,
  fromEnv: boolean,
): string {
  const source = fromEnv ? " (from SPOTIFY_SDK_REDIRECT_URI)" : "";
  const example =
    `register one such as "http://127.0.0.1:8080/callback" or "https://your.app/callback" in the Spotify dashboard and pass it`;
  if (/^\s|\s$/.test(redirectUri)) {
    throw new TypeError(
      `${owner}: "redirectUri"${source} has leading or trailing whitespace: remove it (got ${
        JSON.stringify(showUri(redirectUri))
      })`,
    );
  }
  if (!URL.canParse(redirectUri)) {
    throw new TypeError(
      `${owner}: "redirectUri"${source} must be an absolute URL, got ${
        JSON.stringify(showUri(redirectUri))
      }: ${example}`,
    );
  }
  const url = new URL(redirectUri);
  const shown = JSON.stringify(showUri(redirectUri));
  if (url.protocol === "https:") return redirectUri;
  if (url.protocol === "http:") {
    const host = url.hostname.toLowerCase();
    if (LOOPBACK_IP_HOSTS.has(host) || host === "localhost") return redirectUri;
    throw new TypeError(
      `${owner}: "redirectUri"${source} uses plain http on "${url.hostname}", which Spotify accepts only on 127.0.0.1 or [::1]: use "https://${url.host}${url.pathname}", or for a local app "http://127.0.0.1:${
        url.port || "8080"
      }${url.pathname}" (got ${shown})`,
    );
  }
  throw new TypeError(
    `${owner}: "redirectUri"${source} must be an https URL, or http on 127.0.0.1 or [::1], got ${shown}: ${example}`,
  );
}

// Never echo a password back in an error.
function showUri(redirectUri: string): string {
  if (!URL.canParse(redirectUri)) return redirectUri.slice(0, 200);
  const url = new URL(redirectUri);
  if (url.password === "") return redirectUri;
  url.password = "***";
  return url.href;
}

/**
 * Checks a `fetch` option and fills in the default. Browsers throw "Illegal
 * invocation" when their fetch is called as a method of another object, so
 * the default always calls it on `globalThis` (looked up per call).
 *
 * @throws {TypeError} If `fetch` is given and is not a function.
 */
export function resolveFetch(
  owner: string,
  fetchOption: typeof fetch | undefined,
): typeof fetch {
  if (fetchOption === undefined) {
    return (input, init) => globalThis.fetch(input, init);
  }
  if (typeof fetchOption !== "function") {
    throw new TypeError(
      `${owner}: "fetch" must be a function like globalThis.fetch, got ${
        describeValue(fetchOption)
      }`,
    );
  }
  return fetchOption;
}
