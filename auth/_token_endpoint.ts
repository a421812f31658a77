// The one place that talks to Spotify's token endpoint: form-encoded POST,
// client authentication, per-attempt timeout, retries with backoff, and
// validation of the response as untrusted input.

import { base64EncodeUtf8 } from "./_encoding.ts";
import { parseRetryAfter } from "./_retry_after.ts";
import { fullJitter, sleep } from "./_timing.ts";
import { SpotifyAuthError } from "./errors.ts";
import {
  checkProviderOptions,
  describeValue,
  type ProviderOptions,
  resolveFetch,
} from "./provider_options.ts";
import type { Clock, TokenInfo } from "./token.ts";

const DEFAULT_ACCOUNTS_URL = "https://accounts.spotify.com";
const MAX_BACKOFF_MS = 8_000;
// A Retry-After longer than this is not waited out: the caller gets the 429.
const MAX_RETRY_AFTER_MS = 60_000;
// expires_in beyond ~68 years is not a real token lifetime.
const MAX_EXPIRES_IN = 2 ** 31;
// A token answer is a few hundred bytes; no body is read past this.
const MAX_BODY_BYTES = 64 * 1024;

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

/**
 * Validates the provider options (all of them, see `checkProviderOptions`)
 * and fills in the endpoint part.
 */
export function resolveEndpointSettings(
  owner: string,
  options: ProviderOptions,
): EndpointSettings {
  checkProviderOptions(owner, options);
  return {
    fetch: resolveFetch(owner, options.fetch),
    accountsUrl: resolveAccountsUrl(owner, options.accountsUrl),
    timeoutMs: options.timeoutMs ?? 10_000,
    maxRetries: options.maxRetries ?? 3,
    retryDelayMs: options.retryDelayMs ?? 500,
    clock: options.clock ?? Date,
  };
}

function resolveAccountsUrl(owner: string, accountsUrl?: string): string {
  if (accountsUrl === undefined) return DEFAULT_ACCOUNTS_URL;
  let url: URL;
  try {
    url = new URL(accountsUrl);
  } catch {
    throw new TypeError(
      `${owner}: "accountsUrl" must be an absolute URL such as "https://accounts.spotify.com", got ${
        describeValue(accountsUrl)
      }`,
    );
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new TypeError(
      `${owner}: "accountsUrl" must be an http(s) URL, got ${
        describeValue(accountsUrl)
      }`,
    );
  }
  return url.href.replace(/\/+$/, "");
}

type Attempt =
  | { kind: "response"; status: number; headers: Headers; body: string }
  | { kind: "too_large"; status: number }
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
        ? parseRetryAfter(attempt.headers.get("retry-after"), clock.now())
        : undefined;
      if (retryAfterMs !== undefined && retryAfterMs > MAX_RETRY_AFTER_MS) {
        throw failure.error;
      }
      await sleep(retryAfterMs ?? backoffDelayMs(retryDelayMs, retry), signal);
    }
  }

  async #attempt(init: RequestInit, signal?: AbortSignal): Promise<Attempt> {
    const controller = new AbortController();
    let timedOut = false;
    // Rejects on timeout or abort. Every await below races it, so the
    // attempt settles on time even when an injected fetch (or the body it
    // returns) ignores the abort signal.
    let stop!: (reason: unknown) => void;
    const stopped = new Promise<never>((_, reject) => (stop = reject));
    stopped.catch(() => {});
    const onAbort = () => {
      controller.abort(signal?.reason);
      stop(signal?.reason);
    };
    signal?.addEventListener("abort", onAbort, { once: true });
    const timer = setTimeout(() => {
      timedOut = true;
      const reason = new DOMException(
        "Token request timed out",
        "TimeoutError",
      );
      controller.abort(reason);
      stop(reason);
    }, this.#settings.timeoutMs);
    const fetched = callFetch(this.#settings.fetch, this.#tokenUrl, {
      ...init,
      signal: controller.signal,
    });
    let response: Response | undefined;
    try {
      response = await Promise.race([fetched, stopped]);
      const ok = response.status >= 200 && response.status < 300;
      const { text, truncated } = await readCapped(response, stopped);
      if (ok && truncated) {
        return { kind: "too_large", status: response.status };
      }
      return {
        kind: "response",
        status: response.status,
        headers: response.headers,
        body: text,
      };
    } catch (cause) {
      if (response === undefined) {
        // Given up on: release whatever it still delivers.
        fetched.then((late) => discardBody(late), () => {});
      }
      if (signal?.aborted) throw signal.reason;
      if (timedOut) return { kind: "timeout" };
      // Missing --allow-net is configuration, not an outage: no retry, and
      // the caller sees Deno's own message naming the flag.
      if (isPermissionError(cause)) throw cause;
      return { kind: "network", cause };
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
    }
  }
}

/**
 * The backoff before retry number `retry + 1` (0-based): full jitter over
 * `retryDelayMs * 2^retry`, capped at 8 s.
 */
export function backoffDelayMs(
  retryDelayMs: number,
  retry: number,
  random: () => number = Math.random,
): number {
  return fullJitter(retryDelayMs, retry, MAX_BACKOFF_MS, random);
}

function callFetch(
  fetchFn: typeof fetch,
  url: string,
  init: RequestInit,
): Promise<Response> {
  try {
    // Called without a receiver: a browser's fetch refuses any `this` but
    // the global one.
    return Promise.resolve(fetchFn(url, init));
  } catch (error) {
    return Promise.reject(error);
  }
}

/**
 * Reads at most {@linkcode MAX_BODY_BYTES} of the body, then cancels the
 * rest: a token answer is a few hundred bytes, and an endless body must not
 * fill the memory.
 */
async function readCapped(
  response: Response,
  stopped: Promise<never>,
): Promise<{ text: string; truncated: boolean }> {
  const body = response.body;
  // Duck-typed: a stream from another realm or runtime is still a stream.
  if (typeof body?.getReader !== "function") {
    // No body, or a hand-made response object from an injected fetch.
    const text = typeof response.text === "function"
      ? await Promise.race([response.text(), stopped])
      : "";
    const truncated = text.length > MAX_BODY_BYTES;
    return { text: truncated ? "" : text, truncated };
  }
  const declared = Number(response.headers.get("content-length"));
  if (declared > MAX_BODY_BYTES) {
    discardBody(response);
    return { text: "", truncated: true };
  }
  const reader = body!.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  let done = false;
  let truncated = false;
  try {
    while (!done && !truncated) {
      const next = await Promise.race([reader.read(), stopped]);
      if (next.done) {
        done = true;
      } else if (size + next.value.byteLength > MAX_BODY_BYTES) {
        truncated = true;
        chunks.push(next.value.subarray(0, MAX_BODY_BYTES - size));
        size = MAX_BODY_BYTES;
      } else {
        chunks.push(next.value);
        size += next.value.byteLength;
      }
    }
  } finally {
    // Not awaited: a body that ignores cancellation must not hold us.
    if (!done) reader.cancel().catch(() => {});
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return { text: new TextDecoder().decode(bytes), truncated };
}

function discardBody(response: Response): void {
  if (response.body !== null && !response.bodyUsed) {
    response.body.cancel().catch(() => {});
  }
}

function isPermissionError(error: unknown): boolean {
  const NotCapable = (globalThis as {
    Deno?: { errors?: { NotCapable?: new (...args: never[]) => Error } };
  }).Deno?.errors?.NotCapable;
  if (typeof NotCapable === "function" && error instanceof NotCapable) {
    return true;
  }
  return error instanceof Error && error.name === "NotCapable";
}

interface Failure {
  retryable: boolean;
  error: SpotifyAuthError;
}

function classify(attempt: Attempt): Failure | undefined {
  switch (attempt.kind) {
    case "too_large":
      return {
        retryable: false,
        error: invalidResponse(
          `the body is larger than ${MAX_BODY_BYTES / 1024} KiB`,
          attempt.status,
        ),
      };
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
  // It goes into an Authorization header: a CR/LF would make Headers throw
  // with the token in its message, and a control character in a header is
  // never legitimate.
  // deno-lint-ignore no-control-regex
  if (/[\x00-\x1f\x7f]/.test(access_token)) {
    throw invalidResponse(
      "access_token contains a control character, which an HTTP header cannot carry",
      status,
    );
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
