// The one place that talks to Spotify's token endpoint: form-encoded POST,
// client authentication, per-attempt timeout, retries with backoff, and
// validation of the response as untrusted input.

import { base64EncodeUtf8 } from "./_encoding.ts";
import { sleep } from "./_timing.ts";
import { SpotifyAuthError } from "./errors.ts";
import type { ProviderOptions } from "./provider_options.ts";
import type { Clock, TokenInfo } from "./token.ts";

const DEFAULT_ACCOUNTS_URL = "https://accounts.spotify.com";
const MAX_BACKOFF_MS = 8_000;
// A Retry-After longer than this is not waited out: the caller gets the 429.
const MAX_RETRY_AFTER_MS = 60_000;
// expires_in beyond ~68 years is not a real token lifetime.
const MAX_EXPIRES_IN = 2 ** 31;

/** The client as the token endpoint sees it. */
export interface ClientCredentialsPair {
  clientId: string;
  /** Absent for public (PKCE) clients: `client_id` goes in the body. */
  clientSecret?: string;
}

/** Endpoint settings resolved from {@linkcode ProviderOptions}. */
export interface EndpointSettings {
  fetch: typeof fetch;
  accountsUrl: string;
  timeoutMs: number;
  maxRetries: number;
  retryDelayMs: number;
  clock: Clock;
}

/** Validates and fills in the endpoint part of the provider options. */
export function resolveEndpointSettings(
  owner: string,
  options: ProviderOptions,
): EndpointSettings {
  const timeoutMs = options.timeoutMs ?? 10_000;
  if (!(Number.isFinite(timeoutMs) && timeoutMs > 0)) {
    throw new RangeError(
      `${owner}: "timeoutMs" must be a positive number of milliseconds, got ${timeoutMs}`,
    );
  }
  const maxRetries = options.maxRetries ?? 3;
  if (!(Number.isInteger(maxRetries) && maxRetries >= 0)) {
    throw new RangeError(
      `${owner}: "maxRetries" must be a whole number >= 0, got ${maxRetries}`,
    );
  }
  const retryDelayMs = options.retryDelayMs ?? 500;
  if (!(Number.isFinite(retryDelayMs) && retryDelayMs >= 0)) {
    throw new RangeError(
      `${owner}: "retryDelayMs" must be a number of milliseconds >= 0, got ${retryDelayMs}`,
    );
  }
  // Browsers throw "Illegal invocation" when their fetch is called as a
  // method of another object, so the default always calls it on globalThis.
  const fetchFn: typeof fetch = options.fetch ??
    ((input, init) => globalThis.fetch(input, init));
  if (typeof fetchFn !== "function") {
    throw new TypeError(
      `${owner}: "fetch" must be a function like globalThis.fetch`,
    );
  }
  const clock = options.clock ?? Date;
  if (typeof clock?.now !== "function") {
    throw new TypeError(`${owner}: "clock" must have a now() method`);
  }
  return {
    fetch: fetchFn,
    accountsUrl: resolveAccountsUrl(owner, options.accountsUrl),
    timeoutMs,
    maxRetries,
    retryDelayMs,
    clock,
  };
}

function resolveAccountsUrl(owner: string, accountsUrl?: string): string {
  if (accountsUrl === undefined) return DEFAULT_ACCOUNTS_URL;
  let url: URL;
  try {
    url = new URL(accountsUrl);
  } catch {
    throw new TypeError(
      `${owner}: "accountsUrl" must be an absolute URL such as "https://accounts.spotify.com"`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new TypeError(`${owner}: "accountsUrl" must be an http(s) URL`);
  }
  return url.href.replace(/\/+$/, "");
}

type Attempt =
  | { kind: "response"; status: number; headers: Headers; body: string }
  | { kind: "timeout" }
  | { kind: "network"; cause: unknown };

/** Posts grants to `${accountsUrl}/api/token` for one client. */
export class TokenEndpoint {
  readonly #settings: EndpointSettings;
  readonly #tokenUrl: string;
  readonly #clientId: string;
  readonly #authorization: string | undefined;

  constructor(settings: EndpointSettings, client: ClientCredentialsPair) {
    this.#settings = settings;
    this.#tokenUrl = `${settings.accountsUrl}/api/token`;
    this.#clientId = client.clientId;
    this.#authorization = client.clientSecret === undefined
      ? undefined
      : `Basic ${
        base64EncodeUtf8(`${client.clientId}:${client.clientSecret}`)
      }`;
  }

  /**
   * Sends one grant (with retries) and returns the validated token.
   * `expiresAt` counts from the moment the successful attempt was sent.
   */
  async request(
    grant: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<TokenInfo> {
    const body = new URLSearchParams(grant);
    const headers: Record<string, string> = {
      "content-type": "application/x-www-form-urlencoded",
      accept: "application/json",
    };
    if (this.#authorization === undefined) {
      body.set("client_id", this.#clientId);
    } else {
      headers.authorization = this.#authorization;
    }
    const init: RequestInit = {
      method: "POST",
      headers,
      body: body.toString(),
    };
    const { maxRetries, retryDelayMs, clock } = this.#settings;

    for (let retry = 0;; retry++) {
      signal?.throwIfAborted();
      const sentAtMs = clock.now();
      const attempt = await this.#attempt(init, signal);
      const failure = classify(attempt);
      if (failure === undefined) {
        const response = attempt as Extract<Attempt, { kind: "response" }>;
        return parseTokenResponse(response.body, response.status, sentAtMs);
      }
      if (!failure.retryable || retry >= maxRetries) throw failure.error;
      const retryAfterMs = attempt.kind === "response"
        ? parseRetryAfter(attempt.headers.get("retry-after"), clock)
        : undefined;
      if (retryAfterMs !== undefined && retryAfterMs > MAX_RETRY_AFTER_MS) {
        throw failure.error;
      }
      const delayMs = retryAfterMs ??
        Math.random() * Math.min(MAX_BACKOFF_MS, retryDelayMs * 2 ** retry);
      await sleep(delayMs, signal);
    }
  }

  async #attempt(init: RequestInit, signal?: AbortSignal): Promise<Attempt> {
    const controller = new AbortController();
    let timedOut = false;
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(
        new DOMException("Token request timed out", "TimeoutError"),
      );
    }, this.#settings.timeoutMs);
    try {
      const fetchFn = this.#settings.fetch;
      const response = await fetchFn(this.#tokenUrl, {
        ...init,
        signal: controller.signal,
      });
      const body = await response.text();
      return {
        kind: "response",
        status: response.status,
        headers: response.headers,
        body,
      };
    } catch (cause) {
      if (signal?.aborted) throw signal.reason;
      if (timedOut) return { kind: "timeout" };
      return { kind: "network", cause };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

interface Failure {
  retryable: boolean;
  error: SpotifyAuthError;
}

function classify(attempt: Attempt): Failure | undefined {
  switch (attempt.kind) {
    case "timeout":
      return {
        retryable: true,
        error: new SpotifyAuthError(
          "timeout",
          "The Spotify token endpoint did not answer in time (see the timeoutMs option)",
        ),
      };
    case "network":
      return {
        retryable: true,
        error: new SpotifyAuthError(
          "network_error",
          "Could not reach the Spotify token endpoint",
          { cause: attempt.cause },
        ),
      };
  }
  const { status } = attempt;
  if (status >= 200 && status < 300) return undefined;
  if (status === 429 || status >= 500) {
    return {
      retryable: true,
      error: new SpotifyAuthError(
        "http_error",
        status === 429
          ? "The Spotify token endpoint rate-limited the request (HTTP 429)"
          : `The Spotify token endpoint failed with HTTP ${status}`,
        { status },
      ),
    };
  }
  return { retryable: false, error: oauthError(attempt.body, status) };
}

function oauthError(body: string, status: number): SpotifyAuthError {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    parsed = undefined;
  }
  const error = isRecord(parsed) ? parsed.error : undefined;
  if (typeof error === "string" && /^[\x21-\x7e]{1,64}$/.test(error)) {
    const description = isRecord(parsed) &&
        typeof parsed.error_description === "string"
      ? parsed.error_description.slice(0, 500)
      : undefined;
    return new SpotifyAuthError(
      error,
      `Spotify refused the token request: ${error}${
        description ? ` (${description})` : ""
      }`,
      { status, description },
    );
  }
  return new SpotifyAuthError(
    "http_error",
    `The Spotify token endpoint answered HTTP ${status}`,
    { status },
  );
}

function invalidResponse(problem: string, status: number): SpotifyAuthError {
  return new SpotifyAuthError(
    "invalid_response",
    `The Spotify token endpoint sent an unusable response: ${problem}`,
    { status },
  );
}

/** Validates a token response body as untrusted input. */
function parseTokenResponse(
  body: string,
  status: number,
  sentAtMs: number,
): TokenInfo {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw invalidResponse("the body is not JSON", status);
  }
  if (!isRecord(json)) {
    throw invalidResponse("the body is not a JSON object", status);
  }
  const { access_token, token_type, expires_in, refresh_token, scope } = json;
  if (typeof access_token !== "string" || access_token === "") {
    throw invalidResponse("access_token is missing or not a string", status);
  }
  if (
    token_type !== undefined && token_type !== null &&
    (typeof token_type !== "string" || token_type.toLowerCase() !== "bearer")
  ) {
    throw invalidResponse("token_type is not Bearer", status);
  }
  const expiresIn = parseExpiresIn(expires_in);
  if (expiresIn === undefined) {
    throw invalidResponse(
      "expires_in is missing or not a non-negative number",
      status,
    );
  }
  if (!isOptionalString(refresh_token) || refresh_token === "") {
    throw invalidResponse("refresh_token is not a string", status);
  }
  if (!isOptionalString(scope)) {
    throw invalidResponse("scope is not a string", status);
  }
  const token: {
    accessToken: string;
    expiresAt: number;
    refreshToken?: string;
    scope?: string;
  } = { accessToken: access_token, expiresAt: sentAtMs / 1000 + expiresIn };
  if (typeof refresh_token === "string") token.refreshToken = refresh_token;
  if (typeof scope === "string") token.scope = scope;
  return token;
}

function parseExpiresIn(value: unknown): number | undefined {
  let seconds: number;
  if (typeof value === "number") {
    seconds = value;
  } else if (typeof value === "string" && /^\s*\d+(\.\d+)?\s*$/.test(value)) {
    seconds = Number(value);
  } else {
    return undefined;
  }
  return Number.isFinite(seconds) && seconds >= 0 && seconds <= MAX_EXPIRES_IN
    ? seconds
    : undefined;
}

function isOptionalString(value: unknown): value is string | undefined | null {
  return value === undefined || value === null || typeof value === "string";
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function parseRetryAfter(
  header: string | null,
  clock: Clock,
): number | undefined {
  if (header === null) return undefined;
  const trimmed = header.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : Math.max(0, date - clock.now());
}
