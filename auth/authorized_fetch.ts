/**
 * A `fetch` that authorizes Web API calls with a provider's token, and
 * copes with the Web API's `401`, `429` and passing `5xx` answers.
 *
 * @module
 */

import { parseRetryAfter } from "./_retry_after.ts";
import { fullJitter, sleep } from "./_timing.ts";
import {
  checkNumberOption,
  type GetAccessTokenOptions,
  resolveFetch,
} from "./provider_options.ts";
import type { AuthProvider } from "./token.ts";

/**
 * Options of {@linkcode createAuthorizedFetch}.
 *
 * @example Send the Web API calls to a test fake
 * ```ts
 * import {
 *   type AuthorizedFetchOptions,
 *   createAuthorizedFetch,
 * } from "@spotify-sdk/auth";
 * import { FakeAccountsServer, FakeAuthProvider } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * const { accessToken } = server.issueTokens({ scope: "user-read-private" });
 * const options: AuthorizedFetchOptions = {
 *   fetch: server.fetch,
 *   maxRetryAfterSeconds: 10, // a longer rate limit comes back as the 429
 *   maxRateLimitRetries: 3,
 *   retryDelayMs: 500,
 *   maxRetries: 2,
 * };
 * const spotifyFetch = createAuthorizedFetch(new FakeAuthProvider(accessToken), options);
 * const me = await spotifyFetch("https://api.spotify.com/v1/me");
 * console.log((await me.json()).id); // "test-user"
 * ```
 */
export interface AuthorizedFetchOptions {
  /**
   * The `fetch` that sends the authorized requests. Redirects are left to
   * it (the standard `fetch` drops `Authorization` on a redirect to another
   * origin).
   *
   * @default {globalThis.fetch}
   */
  fetch?: typeof fetch;
  /**
   * The longest `Retry-After` of a `429` that is waited out, in seconds. A
   * longer one (or a missing or malformed one) returns the `429` at once.
   *
   * @default {60}
   */
  maxRetryAfterSeconds?: number;
  /**
   * How many times one call waits out a `429` and sends again.
   *
   * @default {3}
   */
  maxRateLimitRetries?: number;
  /**
   * First backoff before retrying a `502`, `503` or `504`, in
   * milliseconds; doubles per retry, with full jitter.
   *
   * @default {500}
   */
  retryDelayMs?: number;
  /**
   * How many times one `GET` or `HEAD` call is retried after a `502`,
   * `503` or `504`. Other methods are never retried on these.
   *
   * @default {2}
   */
  maxRetries?: number;
}

type RefreshingProvider = {
  getAccessToken(options?: GetAccessTokenOptions): Promise<string>;
};

const OWNER = "createAuthorizedFetch";
// setTimeout fires at once above this; nobody means to wait longer anyway.
const MAX_TIMER_MS = 2 ** 31 - 1;
const PASSING_SERVER_ERRORS = new Set([502, 503, 504]);

/**
 * Wraps `fetch` so that every request carries `Authorization: Bearer …` from
 * `provider`, and retries what is safe to retry:
 *
 * - `401`: forces one refresh and sends once more with the new token (when
 *   the provider hands out a different one; the built-in providers support
 *   `forceRefresh`).
 * - `429`: waits `Retry-After` (delta-seconds or an HTTP date) and sends
 *   again, at most `maxRateLimitRetries` times, for any method. A
 *   `Retry-After` above `maxRetryAfterSeconds`, a missing or malformed one,
 *   or no retries left: the `429` is returned at once, never a long hang.
 * - `502`, `503`, `504`: retried with backoff (`retryDelayMs`, doubling,
 *   full jitter) up to `maxRetries` times, for `GET` and `HEAD` only. A
 *   `500` is returned as it is.
 *
 * Each kind has its own budget within one call; `429` and `5xx` never force
 * a refresh. A response that is retried is cancelled first; the request
 * body is sent again whole on every retry. The request's `signal` is
 * honoured while waiting, and an already-aborted signal rejects with its
 * reason before anything is sent. `authorization_required` from the
 * provider (also from the refresh after a `401`) rejects the call: send the
 * user to sign in again.
 *
 * @param provider Where tokens come from.
 * @param options The underlying `fetch` and the retry limits.
 * @returns A function with the signature of `fetch`.
 * @throws {TypeError} If `provider` has no `getAccessToken()`, or an option
 * has the wrong type.
 * @throws {RangeError} If a numeric option is out of range.
 *
 * @example Call the Web API with an app token
 * ```ts
 * import { ClientCredentials, createAuthorizedFetch } from "@spotify-sdk/auth";
 * import { FakeAccountsServer } from "@spotify-sdk/auth/testing";
 *
 * const server = new FakeAccountsServer();
 * await using auth = new ClientCredentials({
 *   clientId: "test-client-id",
 *   clientSecret: "test-client-secret",
 *   fetch: server.fetch,
 * });
 * const spotifyFetch = createAuthorizedFetch(auth, { fetch: server.fetch });
 * const response = await spotifyFetch("https://api.spotify.com/v1/me");
 * console.log(response.status); // 403: app tokens cannot read /v1/me
 * await response.body?.cancel();
 * ```
 */
export function createAuthorizedFetch(
  provider: AuthProvider,
  options: AuthorizedFetchOptions = {},
): typeof fetch {
  if (typeof provider?.getAccessToken !== "function") {
    throw new TypeError(
      `${OWNER}: pass a provider with getAccessToken(), such as ClientCredentials or AuthorizationCode`,
    );
  }
  const send = resolveFetch(OWNER, options.fetch);
  checkNumberOption(
    OWNER,
    "maxRetryAfterSeconds",
    options.maxRetryAfterSeconds,
    {
      unit: "seconds",
      min: 0,
    },
  );
  checkNumberOption(OWNER, "maxRateLimitRetries", options.maxRateLimitRetries, {
    min: 0,
    integer: true,
  });
  checkNumberOption(OWNER, "retryDelayMs", options.retryDelayMs, {
    unit: "milliseconds",
    min: 0,
  });
  checkNumberOption(OWNER, "maxRetries", options.maxRetries, {
    min: 0,
    integer: true,
  });
  const maxRetryAfterMs = (options.maxRetryAfterSeconds ?? 60) * 1000;
  const maxRateLimitRetries = options.maxRateLimitRetries ?? 3;
  const retryDelayMs = options.retryDelayMs ?? 500;
  const maxRetries = options.maxRetries ?? 2;
  const tokens = provider as RefreshingProvider;

  async function run(
    attempt: (token: string) => Promise<Response>,
    signal: AbortSignal | null | undefined,
    idempotent: boolean,
  ): Promise<Response> {
    let refreshesLeft = 1;
    let rateLimitRetriesLeft = maxRateLimitRetries;
    let serverErrorRetries = 0;
    const tokenOptions = signal ? { signal } : undefined;
    let token = await tokens.getAccessToken(tokenOptions);
    for (;;) {
      signal?.throwIfAborted();
      const response = await attempt(token);
      const status = response.status;
      if (status === 401 && refreshesLeft > 0) {
        refreshesLeft--;
        let fresh: string;
        try {
          fresh = await tokens.getAccessToken({
            ...tokenOptions,
            forceRefresh: true,
          });
        } catch (error) {
          await discard(response);
          throw error;
        }
        if (fresh === token) return response;
        await discard(response);
        token = fresh;
        continue;
      }
      let waitMs: number;
      if (status === 429) {
        const retryAfterMs = parseRetryAfter(
          response.headers.get("retry-after"),
          Date.now(),
        );
        if (
          rateLimitRetriesLeft === 0 || retryAfterMs === undefined ||
          retryAfterMs > maxRetryAfterMs
        ) {
          return response;
        }
        rateLimitRetriesLeft--;
        waitMs = retryAfterMs;
      } else if (
        PASSING_SERVER_ERRORS.has(status) && idempotent &&
        serverErrorRetries < maxRetries
      ) {
        waitMs = fullJitter(retryDelayMs, serverErrorRetries, MAX_TIMER_MS);
        serverErrorRetries++;
      } else {
        return response;
      }
      await discard(response);
      await sleep(Math.min(waitMs, MAX_TIMER_MS), signal);
      // The token may have expired during the wait: the hot path is cheap.
      token = await tokens.getAccessToken(tokenOptions);
    }
  }

  return (input: RequestInfo | URL, init?: RequestInit) => {
    if (!(input instanceof Request) && isReplayable(init?.body)) {
      // The common case: the caller's arguments are passed on with the
      // header added, no Request built (it would cost more than an
      // in-process fake's whole answer), and the body sent again as given.
      const signal = init?.signal;
      if (signal?.aborted) return Promise.reject(signal.reason);
      const method = String(init?.method ?? "GET").toUpperCase();
      return run(
        (token) =>
          send(input, {
            ...init,
            headers: withAuthorization(init?.headers, `Bearer ${token}`),
          }),
        signal,
        method === "GET" || method === "HEAD",
      );
    }
    return runRequest(input, init);
  };

  async function runRequest(
    input: RequestInfo | URL,
    init: RequestInit | undefined,
  ): Promise<Response> {
    // Our own copy: the caller's Request keeps its headers.
    const request = new Request(input, init);
    const signal = request.signal;
    signal.throwIfAborted();
    // Buffered once so that every retry sends the same bytes.
    const body = request.body === null ? null : await request.arrayBuffer();
    return run(
      (token) => {
        request.headers.set("authorization", `Bearer ${token}`);
        return send(body === null ? request : new Request(request, { body }));
      },
      signal,
      request.method === "GET" || request.method === "HEAD",
    );
  }
}

/**
 * Whether `fetch` can be given this body again on a retry: everything but a
 * stream (read once) or something `fetch` would have to interpret.
 */
function isReplayable(body: BodyInit | null | undefined): boolean {
  return body == null || typeof body === "string" ||
    body instanceof URLSearchParams || body instanceof ArrayBuffer ||
    ArrayBuffer.isView(body) || body instanceof Blob ||
    body instanceof FormData;
}

/** `headers` with `Authorization` set to `value`, whatever their form. */
function withAuthorization(
  headers: HeadersInit | undefined,
  value: string,
): HeadersInit {
  if (headers == null) return { authorization: value };
  if (headers instanceof Headers) {
    const copy = new Headers(headers);
    copy.set("authorization", value);
    return copy;
  }
  if (typeof (headers as Iterable<unknown>)[Symbol.iterator] === "function") {
    const pairs = Array.from(headers as Iterable<[string, string]>).filter(
      ([name]) => String(name).toLowerCase() !== "authorization",
    );
    pairs.push(["authorization", value]);
    return pairs;
  }
  const copy: Record<string, string> = {};
  for (const name of Object.keys(headers)) {
    if (name.toLowerCase() !== "authorization") {
      copy[name] = (headers as Record<string, string>)[name];
    }
  }
  copy.authorization = value;
  return copy;
}

/**
 * Frees a response that will not be read (its connection, its stream),
 * without waiting: a body whose cancel() never settles must not hold the call.
 */
function discard(response: Response): Promise<void> {
  try {
    response.body?.cancel().catch(() => {});
  } catch {
    // Already read or locked by the underlying fetch: nothing left to free.
  }
  return Promise.resolve();
}
