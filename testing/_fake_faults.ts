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

/** Copies and checks a fault given to `failNext`. */
export function checkFault(fault: FakeFault): FakeFault {
  if (fault === "network" || fault === "malformed") return fault;
  if (typeof fault !== "object" || fault === null) {
    throw new TypeError(
      `Unknown fault ${
        JSON.stringify(fault)
      }: use "network", "malformed", { status } or { delayMs }`,
    );
  }
  if ("delayMs" in fault) {
    if (
      typeof fault.delayMs !== "number" || !Number.isFinite(fault.delayMs) ||
      fault.delayMs < 0
    ) {
      throw new RangeError(
        `Fault delayMs must be a finite number >= 0, got ${fault.delayMs}`,
      );
    }
    return { delayMs: fault.delayMs };
  }
  if ("status" in fault) {
    if (
      !Number.isInteger(fault.status) || fault.status < 200 ||
      fault.status > 599
    ) {
      throw new RangeError(
        `Fault status must be an integer HTTP status from 200 to 599, got ${fault.status}`,
      );
    }
    return {
      status: fault.status,
      body: fault.body,
      headers: fault.headers === undefined
        ? undefined
        : [...new Headers(fault.headers)],
    };
  }
  throw new TypeError(
    'A fault object needs a "status" or a "delayMs": e.g. { status: 503 } or { delayMs: 100 }',
  );
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
