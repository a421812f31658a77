// Injected failures: the queue `failNext` fills, and the answers a fault
// turns into.

import type { FakeFault, FakeFaultEndpoint } from "./fake_accounts_server.ts";

interface QueuedFault {
  readonly fault: FakeFault;
  readonly endpoint: FakeFaultEndpoint;
  remaining: number;
}

/** Faults waiting for requests, applied in the order they were queued. */
export class FaultQueue {
  #queue: QueuedFault[] = [];

  get size(): number {
    return this.#queue.length;
  }

  add(fault: FakeFault, endpoint: FakeFaultEndpoint, times: number): void {
    this.#queue.push({ fault, endpoint, remaining: times });
  }

  /** Takes the oldest fault queued for `endpoint`, if any. */
  take(endpoint: FakeFaultEndpoint): FakeFault | undefined {
    const queue = this.#queue;
    if (queue.length === 0) return undefined;
    for (let index = 0; index < queue.length; index++) {
      const entry = queue[index];
      if (entry.endpoint !== endpoint) continue;
      if (--entry.remaining === 0) queue.splice(index, 1);
      return entry.fault;
    }
    return undefined;
  }

  clear(): void {
    this.#queue = [];
  }
}

/** A value and its type, for error messages: `"503" (string)`. */
export function describeValue(value: unknown): string {
  const type = value === null ? "null" : typeof value;
  let shown: string | undefined;
  try {
    shown = typeof value === "bigint" ? `${value}n` : JSON.stringify(value);
  } catch {
    // Cyclic objects and the like: the type alone says enough.
  }
  return `${shown ?? String(value)} (${type})`;
}

const FAULT_EXAMPLES =
  'use "network", "malformed", { status: 503 } or { delayMs: 100 }';

/** Copies and checks a fault given to `failNext`. */
export function checkFault(fault: unknown): FakeFault {
  if (fault === "network" || fault === "malformed") return fault;
  if (typeof fault !== "object" || fault === null || Array.isArray(fault)) {
    throw new TypeError(
      `Unknown fault ${describeValue(fault)}: ${FAULT_EXAMPLES}`,
    );
  }
  const hasDelay = "delayMs" in fault;
  const hasStatus = "status" in fault;
  if (hasDelay && hasStatus) {
    throw new TypeError(
      "A fault has either a status or a delayMs, not both: queue { delayMs } and { status } as two faults",
    );
  }
  if (hasDelay) {
    const { delayMs } = fault as { delayMs: unknown };
    if (typeof delayMs !== "number") {
      throw new TypeError(
        `Fault delayMs must be a number of milliseconds, got ${
          describeValue(delayMs)
        }`,
      );
    }
    if (!Number.isFinite(delayMs) || delayMs < 0) {
      throw new RangeError(
        `Fault delayMs must be a finite number >= 0, got ${delayMs}`,
      );
    }
    return { delayMs };
  }
  if (hasStatus) {
    const { status, body, headers } = fault as {
      status: unknown;
      body?: unknown;
      headers?: unknown;
    };
    if (typeof status !== "number") {
      throw new TypeError(
        `Fault status must be a number (an HTTP status from 200 to 599), got ${
          describeValue(status)
        }`,
      );
    }
    if (!Number.isInteger(status) || status < 200 || status > 599) {
      throw new RangeError(
        `Fault status must be an integer HTTP status from 200 to 599, got ${status}`,
      );
    }
    let copied: [string, string][] | undefined;
    if (headers !== undefined) {
      try {
        copied = [...new Headers(headers as HeadersInit)];
      } catch (error) {
        throw new TypeError(
          `Fault headers must be a Headers, a record or a list of [name, value] pairs of valid header names and values, got ${
            describeValue(headers)
          }`,
          { cause: error },
        );
      }
    }
    if (body !== undefined && typeof body !== "string") {
      // Serialized now, so a body that cannot be fails here, not mid-test.
      let json: string | undefined;
      let cause: unknown;
      try {
        json = JSON.stringify(body);
      } catch (error) {
        cause = error;
      }
      if (json === undefined) {
        throw new TypeError(
          `Fault body must be a string or a JSON value, got ${
            describeValue(body)
          }`,
          { cause },
        );
      }
    }
    return { status, body, headers: copied };
  }
  throw new TypeError(
    `A fault object needs a "status" or a "delayMs", got ${
      describeValue(fault)
    }: ${FAULT_EXAMPLES}`,
  );
}

const FAULT_ENDPOINTS: ReadonlySet<unknown> = new Set([
  "token",
  "authorize",
  "me",
]);

/** Checks the options given to `failNext`, with the defaults applied. */
export function checkFailNextOptions(
  options: unknown,
): { times: number; endpoint: FakeFaultEndpoint } {
  if (options === undefined) return { times: 1, endpoint: "token" };
  if (typeof options !== "object" || options === null) {
    throw new TypeError(
      `failNext() options must be an object like { times: 2, endpoint: "me" }, got ${
        describeValue(options)
      }`,
    );
  }
  const { times = 1, endpoint = "token" } = options as {
    times?: unknown;
    endpoint?: unknown;
  };
  if (typeof times !== "number") {
    throw new TypeError(
      `times must be a number (a positive integer or Infinity), got ${
        describeValue(times)
      }`,
    );
  }
  if (!(Number.isInteger(times) && times > 0) && times !== Infinity) {
    throw new RangeError(
      `times must be a positive integer or Infinity, got ${times}`,
    );
  }
  if (!FAULT_ENDPOINTS.has(endpoint)) {
    throw new TypeError(
      `endpoint must be "token", "authorize" or "me", got ${
        describeValue(endpoint)
      }`,
    );
  }
  return { times, endpoint: endpoint as FakeFaultEndpoint };
}

/** The answer of a `{ status }` fault. */
export function statusFaultResponse(
  status: number,
  body: unknown,
  headersInit: HeadersInit | undefined,
  cors: boolean,
): Response {
  const headers = new Headers(headersInit);
  let text: string | null = null;
  if (typeof body === "string") {
    text = body;
  } else if (body !== undefined) {
    text = JSON.stringify(body);
    if (!headers.has("content-type")) {
      headers.set("content-type", "application/json");
    }
  }
  if (cors && !headers.has("access-control-allow-origin")) {
    headers.set("access-control-allow-origin", "*");
  }
  const nullBody = status === 204 || status === 205 || status === 304;
  return new Response(nullBody ? null : text, { status, headers });
}

/** The answer of a `"malformed"` fault: 200, claims JSON, is not JSON. */
export function malformedResponse(cors: boolean): Response {
  const response = new Response('{"access_token": "fake-access-<truncated', {
    status: 200,
    headers: { "content-type": "application/json" },
  });
  if (cors) response.headers.set("access-control-allow-origin", "*");
  return response;
}

/** Thrown where a `"network"` fault drops the connection in-process. */
export function networkError(): TypeError {
  return new TypeError(
    "fetch failed: connection dropped by FakeAccountsServer (injected network fault)",
  );
}

/**
 * Over HTTP, a `"network"` fault must make the client's `fetch` reject, but
 * `Deno.serve` always writes a well-formed response and offers no way to
 * reset the connection. A response head larger than any HTTP client accepts
 * (more than 100 header lines, about 360 KiB: over the limits of hyper,
 * undici, Python's http.client and browsers) is refused by the client as a
 * protocol error, which `fetch` reports as a `TypeError`, exactly as it does
 * for a dropped connection.
 */
export function unreadableResponse(): Response {
  const filler = "x".repeat(3000);
  const headers: [string, string][] = [];
  for (let index = 0; index < 120; index++) {
    headers.push([`x-fake-network-fault-${index}`, filler]);
  }
  return new Response(null, { status: 200, headers });
}
