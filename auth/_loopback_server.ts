// The loopback listener of authorizeLocal(): binds only the loopback address,
// answers only the redirect path on requests addressed to it, one request per
// connection.
//
// It speaks just enough HTTP/1.1 itself, on `Deno.listen`, instead of using
// `Deno.serve`: `Deno.serve`'s graceful `shutdown()` waits for every request
// in flight, so any local process that sends a request head and never its
// body (or never reads the answer) could hold a login open forever, and a
// connection cannot be cut from the outside. Here every connection is ours:
// a request head must arrive within a deadline, each connection carries one
// request and is then closed, and `close()` cuts whatever is still open
// after a short grace.

import type { LoopbackRedirect } from "./_loopback_redirect.ts";
import { pageResponse } from "./_loopback_pages.ts";

const OWNER = "authorizeLocal";

/** A request head longer than this is refused (browsers send ~1 KiB). */
const MAX_HEAD_BYTES = 16 * 1024;
const DEFAULT_HEAD_TIMEOUT_MS = 10_000;
/** How long an answer may take to be written before the connection is cut. */
const WRITE_TIMEOUT_MS = 5_000;
/**
 * After the answer, the rest of what the client sent is read and dropped for
 * up to this long before closing: closing a socket with unread input makes
 * the kernel send a reset, which can destroy the answer on its way.
 */
const LINGER_MS = 1_000;
const DEFAULT_CLOSE_GRACE_MS = 1_000;
/** Browsers open a handful of connections; more is someone else. */
const MAX_CONNECTIONS = 32;

const STATUS_TEXT: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  409: "Conflict",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  502: "Bad Gateway",
};

const encoder = new TextEncoder();

/** A running callback listener. */
export interface LoopbackServer {
  /** The port actually bound. */
  readonly port: number;
  /**
   * Stops accepting and cuts idle or stalled connections at once; answers
   * being prepared or written get up to `graceMs` (default 1 s) to finish,
   * then their connections are cut too. Never waits longer than that.
   */
  close(options?: { graceMs?: number }): Promise<void>;
}

/** Tuning for tests; production uses the defaults. */
export interface LoopbackServerOptions {
  /** A connection must send its whole request head within this time. */
  headTimeoutMs?: number;
}

/**
 * Starts the listener. `onCallback` receives every `GET` of the
 * redirect path whose `Host` is the listener's own.
 *
 * @throws {Deno.errors.NotCapable} (or `PermissionDenied`) naming the
 * `--allow-net` flag to add; `Deno.errors.AddrInUse` saying what to change.
 */
export function serveLoopback(
  redirect: LoopbackRedirect,
  onCallback: (url: URL) => Promise<Response>,
  options: LoopbackServerOptions = {},
): LoopbackServer {
  let listener: Deno.TcpListener;
  try {
    listener = Deno.listen({
      hostname: redirect.bindHostname,
      port: redirect.port,
    });
  } catch (error) {
    throw explainListenError(error, redirect);
  }
  const port = listener.addr.port;
  const origin = `http://${redirect.host}:${port}`;
  const headTimeoutMs = options.headTimeoutMs ?? DEFAULT_HEAD_TIMEOUT_MS;

  const answer = async (head: RequestHead): Promise<Response> => {
    // A foreign Host is a page on another site reaching us through DNS
    // rebinding, or a proxy: never let it near the callback.
    if (!redirect.acceptsHost(head.host, port)) {
      return pageResponse("bad_host", head.method);
    }
    // Only the origin form ("/path?query") is served. Appending it to our own
    // origin (rather than resolving it) keeps "//other.host/x" a path.
    if (!head.target.startsWith("/") || !URL.canParse(origin + head.target)) {
      return pageResponse("bad_request", head.method);
    }
    const url = new URL(origin + head.target);
    if (url.pathname !== redirect.pathname) {
      return pageResponse("not_found", head.method);
    }
    // Not even HEAD: the callback spends its code.
    if (head.method !== "GET") {
      const response = pageResponse("method_not_allowed", head.method);
      response.headers.set("allow", "GET");
      return response;
    }
    try {
      return await onCallback(url);
    } catch {
      return pageResponse("error", head.method);
    }
  };

  const connections = new Set<Connection>();
  let closing = false;
  const accepting = (async () => {
    while (true) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch {
        return; // The listener was closed.
      }
      if (closing || connections.size >= MAX_CONNECTIONS) {
        conn.close();
        continue;
      }
      const connection = new Connection(conn, headTimeoutMs, answer);
      connections.add(connection);
      connection.finished.then(() => connections.delete(connection));
    }
  })();

  let closed: Promise<void> | undefined;
  return {
    port,
    close(closeOptions = {}): Promise<void> {
      closed ??= (async () => {
        closing = true;
        listener.close();
        await accepting;
        const graceMs = closeOptions.graceMs ?? DEFAULT_CLOSE_GRACE_MS;
        // Connections still waiting for a request head, or lingering after
        // their answer, have nothing more to receive.
        for (const connection of connections) {
          if (!connection.answering) connection.cut();
        }
        const open = [...connections].map((c) => c.finished);
        let timer: ReturnType<typeof setTimeout> | undefined;
        const grace = new Promise<void>((resolve) => {
          timer = setTimeout(resolve, graceMs);
        });
        await Promise.race([Promise.all(open), grace]);
        clearTimeout(timer);
        for (const connection of connections) connection.cut();
        await Promise.all(open);
      })();
      return closed;
    },
  };
}

interface RequestHead {
  method: string;
  target: string;
  /** The `Host` header; `null` when missing or sent more than once. */
  host: string | null;
}

/** One accepted connection: read a head, answer it, close. */
class Connection {
  readonly finished: Promise<void>;
  /** True from a complete request head until its answer is written. */
  answering = false;
  readonly #conn: Deno.TcpConn;
  #cut = false;
  /** Resolves when the connection is cut: an answer is not waited for then. */
  readonly #whenCut = Promise.withResolvers<undefined>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    conn: Deno.TcpConn,
    headTimeoutMs: number,
    answer: (head: RequestHead) => Promise<Response>,
  ) {
    this.#conn = conn;
    this.finished = this.#serve(headTimeoutMs, answer);
  }

  /** Closes the socket now; pending reads and writes fail and end the task. */
  cut(): void {
    clearTimeout(this.#timer);
    if (this.#cut) return;
    this.#cut = true;
    this.#whenCut.resolve(undefined);
    try {
      this.#conn.close();
    } catch {
      // Already closed.
    }
  }

  /** Cuts the connection unless the current step ends within `ms`. */
  #deadline(ms: number): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => this.cut(), ms);
  }

  async #serve(
    headTimeoutMs: number,
    answer: (head: RequestHead) => Promise<Response>,
  ): Promise<void> {
    try {
      this.#deadline(headTimeoutMs);
      const head = await this.#readHead();
      if (head === undefined) return;
      this.answering = true;
      clearTimeout(this.#timer);
      const response = head === "too_large"
        ? pageResponse("too_large")
        : head === "malformed"
        ? pageResponse("bad_request")
        : await Promise.race([answer(head), this.#whenCut.promise]);
      if (response === undefined || this.#cut) return;
      this.#deadline(WRITE_TIMEOUT_MS);
      await this.#write(await serialize(response));
      this.answering = false;
      this.#deadline(LINGER_MS);
      await this.#conn.closeWrite();
      await this.#drain();
    } catch {
      // A client that went away, or a connection we cut: nothing to answer.
    } finally {
      this.answering = false;
      this.cut();
    }
  }

  /** Reads up to the blank line that ends the head; the body is not read. */
  async #readHead(): Promise<
    RequestHead | "too_large" | "malformed" | undefined
  > {
    const buffer = new Uint8Array(MAX_HEAD_BYTES);
    let length = 0;
    while (length < buffer.length) {
      const n = await this.#conn.read(buffer.subarray(length));
      if (n === null) return undefined;
      const from = Math.max(0, length - 3);
      length += n;
      const end = findHeadEnd(buffer, from, length);
      if (end !== -1) return parseHead(buffer.subarray(0, end));
    }
    return "too_large";
  }

  async #write(bytes: Uint8Array): Promise<void> {
    let written = 0;
    while (written < bytes.length) {
      written += await this.#conn.write(bytes.subarray(written));
    }
  }

  async #drain(): Promise<void> {
    const scratch = new Uint8Array(4096);
    while ((await this.#conn.read(scratch)) !== null) {
      // Dropped: the request was answered already.
    }
  }
}

/** The index just past "\r\n\r\n" (or "\n\n"), or -1. */
function findHeadEnd(buffer: Uint8Array, from: number, to: number): number {
  for (let i = from; i < to; i++) {
    if (buffer[i] !== 0x0a) continue;
    if (buffer[i + 1] === 0x0a && i + 1 < to) return i + 2;
    if (buffer[i + 1] === 0x0d && buffer[i + 2] === 0x0a && i + 2 < to) {
      return i + 3;
    }
  }
  return -1;
}

function parseHead(bytes: Uint8Array): RequestHead | "malformed" {
  // Header bytes outside ASCII are kept as Latin-1, as HTTP defines them.
  const lines = new TextDecoder("latin1").decode(bytes).split(/\r?\n/);
  const requestLine = /^([A-Z]{1,16}) (\S+) HTTP\/1\.[01]$/.exec(lines[0]);
  if (requestLine === null) return "malformed";
  const hosts: string[] = [];
  for (const line of lines.slice(1)) {
    if (line === "") continue;
    const colon = line.indexOf(":");
    if (colon <= 0) return "malformed";
    if (line.slice(0, colon).toLowerCase() === "host") {
      hosts.push(line.slice(colon + 1).trim());
    }
  }
  return {
    method: requestLine[1],
    target: requestLine[2],
    host: hosts.length === 1 ? hosts[0] : null,
  };
}

async function serialize(response: Response): Promise<Uint8Array> {
  const body = new Uint8Array(await response.arrayBuffer());
  const reason = STATUS_TEXT[response.status] ?? "";
  let head = `HTTP/1.1 ${response.status} ${reason}\r\n`;
  for (const [name, value] of response.headers) {
    if (name === "content-length" || name === "connection") continue;
    head += `${name}: ${value}\r\n`;
  }
  head += `content-length: ${body.length}\r\nconnection: close\r\n\r\n`;
  const headBytes = encoder.encode(head);
  const bytes = new Uint8Array(headBytes.length + body.length);
  bytes.set(headBytes);
  bytes.set(body, headBytes.length);
  return bytes;
}

function explainListenError(
  error: unknown,
  redirect: LoopbackRedirect,
): unknown {
  const address = redirect.bindHostname.includes(":")
    ? `[${redirect.bindHostname}]`
    : redirect.bindHostname;
  const target = redirect.port === 0 ? address : `${address}:${redirect.port}`;
  if (
    error instanceof Deno.errors.NotCapable ||
    error instanceof Deno.errors.PermissionDenied
  ) {
    const Class = error instanceof Deno.errors.NotCapable
      ? Deno.errors.NotCapable
      : Deno.errors.PermissionDenied;
    return new Class(
      `${OWNER}: cannot listen on ${target} for the login callback: run Deno with --allow-net=${target}`,
      { cause: error },
    );
  }
  if (error instanceof Deno.errors.AddrInUse) {
    return new Deno.errors.AddrInUse(
      `${OWNER}: port ${redirect.port} on ${address} is already in use: stop the program that uses it, or register a redirect URI with another port (or none, like "http://${redirect.host}${redirect.pathname}", to use a free port on each login) in the Spotify dashboard`,
      { cause: error },
    );
  }
  return error;
}
