// The plumbing shared by the fake's endpoints: a request shape that can be
// built without constructing a `Request` (the in-process hot path), and the
// response shapes Spotify uses.

/** What the fake's endpoints need from a request. */
export interface FakeRequest {
  readonly method: string;
  /** `url.pathname`, which is all that routing needs. */
  readonly pathname: string;
  readonly url: URL;
  /** Returns a header's value; `name` must be lower case. */
  header(name: string): string | null;
  text(): string | Promise<string>;
  readonly signal?: AbortSignal | null;
}

/** The paths the fake serves, as a client writes them. */
const SERVED_PATHS: ReadonlySet<string> = new Set([
  "/api/token",
  "/authorize",
  "/v1/me",
  "/v1/me/",
]);

/**
 * A `Request` (from `Deno.serve` or a caller of `handler`) seen as a
 * {@linkcode FakeRequest}. A class, not an object literal with getters: V8
 * gives each such literal its own hidden class, which under load made
 * garbage collection the main cost of a grant over HTTP. Parsing the URL is
 * left until something needs more than the path: a token grant never does.
 */
class AdaptedRequest implements FakeRequest {
  readonly method: string;
  readonly #request: Request;
  readonly #cut: AbortSignal | undefined;
  readonly #href: string;
  #pathname: string | undefined;
  #url: URL | undefined;

  constructor(request: Request, cut: AbortSignal | undefined) {
    this.#request = request;
    this.#cut = cut;
    this.method = request.method;
    const href = this.#href = request.url;
    // `http://host:port/path?query`: the path starts at the first "/" after
    // the authority. Only a path that is already one of ours is taken as
    // is; anything else (dot segments, escapes) goes through the URL parser.
    const start = href.indexOf("/", href.indexOf("//") + 2);
    if (start !== -1) {
      const query = href.indexOf("?", start);
      const hash = href.indexOf("#", start);
      const end = query === -1 ? (hash === -1 ? href.length : hash) : query;
      const raw = href.slice(start, end);
      if (SERVED_PATHS.has(raw)) this.#pathname = raw;
    }
  }

  get pathname(): string {
    return this.#pathname ??= this.url.pathname;
  }

  get url(): URL {
    return this.#url ??= new URL(this.#href);
  }

  header(name: string): string | null {
    return this.#request.headers.get(name);
  }

  text(): Promise<string> {
    return this.#request.text();
  }

  // Lazy: Deno.serve warns about its legacy abort-on-success behaviour once
  // a request's signal has been touched, and only delays need it.
  get signal(): AbortSignal {
    const signal = this.#request.signal;
    return this.#cut === undefined
      ? signal
      : AbortSignal.any([signal, this.#cut]);
  }
}

/** Adapts a `Request` given to `handler`. */
export function fromRequest(request: Request): FakeRequest {
  return new AdaptedRequest(request, undefined);
}

/**
 * Adapts a request received by `Deno.serve`; `cut` (the listener closing)
 * also ends injected delays.
 */
export function fromServedRequest(
  request: Request,
  cut: AbortSignal,
): FakeRequest {
  return new AdaptedRequest(request, cut);
}

/**
 * Adapts `fetch` arguments. String and `URLSearchParams` bodies (what every
 * OAuth client sends) skip the `Request` constructor, which dominates the
 * cost of an in-process token grant; anything else goes through it.
 */
export function fromFetchArguments(
  input: string | URL | Request,
  init: RequestInit | undefined,
): FakeRequest {
  const body = init?.body;
  if (
    input instanceof Request ||
    !(body == null || typeof body === "string" ||
      body instanceof URLSearchParams)
  ) {
    return fromRequest(new Request(input, init));
  }
  const method = normalizeMethod(init?.method);
  if (body != null && (method === "GET" || method === "HEAD")) {
    throw new TypeError("Request with GET/HEAD method cannot have body.");
  }
  const url = typeof input === "string" ? new URL(input) : input;
  const pathname = url.pathname;
  const text = body == null ? "" : body.toString();
  const defaultContentType = body == null
    ? null
    : typeof body === "string"
    ? "text/plain;charset=UTF-8"
    : "application/x-www-form-urlencoded;charset=UTF-8";
  const headers = init?.headers;
  return {
    method,
    pathname,
    url,
    header(name) {
      const value = lookupHeader(headers, name);
      return value === null && name === "content-type"
        ? defaultContentType
        : value;
    },
    text: () => text,
    signal: init?.signal,
  };
}

const STANDARD_METHODS = new Set([
  "DELETE",
  "GET",
  "HEAD",
  "OPTIONS",
  "POST",
  "PUT",
]);

function normalizeMethod(method: string | undefined): string {
  if (method === undefined) return "GET";
  const upper = method.toUpperCase();
  return STANDARD_METHODS.has(upper) ? upper : method;
}

function lookupHeader(
  headers: HeadersInit | undefined,
  name: string,
): string | null {
  if (headers === undefined) return null;
  if (headers instanceof Headers) return headers.get(name);
  let found: string | null = null;
  const entries = Array.isArray(headers)
    ? headers as [string, string][]
    : Object.entries(headers);
  for (const [key, value] of entries) {
    if (key.toLowerCase() !== name) continue;
    const trimmed = String(value).trim();
    found = found === null ? trimmed : `${found}, ${trimmed}`;
  }
  return found;
}

/** Whether a `Content-Type` value names the form media type. */
export function isFormContentType(contentType: string | null): boolean {
  if (contentType === null) return false;
  const semicolon = contentType.indexOf(";");
  const mediaType = semicolon === -1
    ? contentType
    : contentType.slice(0, semicolon);
  return mediaType.trim().toLowerCase() === "application/x-www-form-urlencoded";
}

/**
 * Builds a response. Deno 2's `Response` constructor is fast with only a
 * `content-type` in `init.headers` and several microseconds slower per extra
 * header, while setting headers afterwards is cheap: this keeps an
 * in-process token grant well under 20 µs.
 */
export function buildResponse(
  body: string | null,
  status: number,
  contentType: string | null,
  headers: Readonly<Record<string, string>>,
): Response {
  const response = new Response(
    body,
    contentType === null
      ? { status }
      : { status, headers: { "content-type": contentType } },
  );
  const target = response.headers;
  for (const name in headers) target.set(name, headers[name]);
  return response;
}

const TOKEN_RESPONSE_HEADERS: Readonly<Record<string, string>> = {
  "cache-control": "no-store",
  "pragma": "no-cache",
  "access-control-allow-origin": "*",
};

const CORS_HEADERS: Readonly<Record<string, string>> = {
  "access-control-allow-origin": "*",
};

const NO_HEADERS: Readonly<Record<string, string>> = {};

/** An answer of `/api/token` (success and error alike). */
export function tokenEndpointResponse(status: number, body: unknown): Response {
  return buildResponse(
    JSON.stringify(body),
    status,
    "application/json",
    TOKEN_RESPONSE_HEADERS,
  );
}

/** An answer of the Web API (`/v1/me`), errors as `{"error":{...}}`. */
export function webApiResponse(status: number, body: unknown): Response {
  return buildResponse(
    JSON.stringify(body),
    status,
    "application/json; charset=utf-8",
    CORS_HEADERS,
  );
}

/** The answer to a CORS preflight. */
export function preflightResponse(methods: string): Response {
  return buildResponse(null, 204, null, {
    "access-control-allow-origin": "*",
    "access-control-allow-methods": methods,
    "access-control-allow-headers":
      "authorization, content-type, accept, accept-language, content-language",
    "access-control-max-age": "86400",
  });
}

/** The 405 answer, with CORS headers when the endpoint has them. */
export function methodNotAllowed(allow: string, cors: boolean): Response {
  const headers: Record<string, string> = { allow };
  if (cors) headers["access-control-allow-origin"] = "*";
  return buildResponse(
    "Method Not Allowed",
    405,
    "text/plain; charset=utf-8",
    headers,
  );
}

/** The 404 answer for paths the fake does not serve. */
export function notFound(): Response {
  return buildResponse(
    "Not Found",
    404,
    "text/plain; charset=utf-8",
    NO_HEADERS,
  );
}

/** The HTML error page `/authorize` shows instead of redirecting. */
export function errorPage(problem: string): Response {
  const escaped = problem.replaceAll("&", "&amp;").replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;");
  return new Response(
    `<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>Error</title></head>` +
      `<body><h1>Oops! Something went wrong</h1><p class="error">${escaped}</p></body></html>\n`,
    { status: 400, headers: { "content-type": "text/html; charset=utf-8" } },
  );
}

/** Rejects with `signal.reason` if `signal` aborts before `promise` settles. */
export function raceAbort<T>(
  promise: Promise<T>,
  signal: AbortSignal,
): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener("abort", onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener("abort", onAbort);
        resolve(value);
      },
      (error) => {
        signal.removeEventListener("abort", onAbort);
        reject(error);
      },
    );
  });
}
