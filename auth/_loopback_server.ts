// The loopback listener of authorizeLocal(): binds only the loopback address,
// answers only the redirect path on requests addressed to it, and shuts down
// gracefully so the browser always receives its page.

import type { LoopbackRedirect } from "./_loopback_redirect.ts";
import { pageResponse } from "./_loopback_pages.ts";

const OWNER = "authorizeLocal";

/** A running callback listener. */
export interface LoopbackServer {
  /** The port actually bound. */
  readonly port: number;
  /** Stops accepting, lets answers in flight finish, then closes the port. */
  close(): Promise<void>;
}

/**
 * Starts the listener. `onCallback` receives every `GET` of the redirect path
 * whose `Host` is the listener's own.
 *
 * @throws {Deno.errors.NotCapable} (or `PermissionDenied`) naming the
 * `--allow-net` flag to add; `Deno.errors.AddrInUse` saying what to change.
 */
export function serveLoopback(
  redirect: LoopbackRedirect,
  onCallback: (url: URL) => Promise<Response>,
): LoopbackServer {
  let port = redirect.port;
  const handler = async (request: Request): Promise<Response> => {
    // A foreign Host is a page on another site reaching us through DNS
    // rebinding, or a proxy: never let it near the callback.
    if (!redirect.acceptsHost(request.headers.get("host"), port)) {
      return pageResponse("bad_host", request.method);
    }
    const url = new URL(request.url);
    if (url.pathname !== redirect.pathname) {
      return pageResponse("not_found", request.method);
    }
    if (request.method !== "GET") {
      const response = pageResponse("method_not_allowed", request.method);
      response.headers.set("allow", "GET");
      return response;
    }
    try {
      return await onCallback(url);
    } catch {
      return pageResponse("error");
    }
  };
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({
      hostname: redirect.bindHostname,
      port: redirect.port,
      onListen() {},
      onError: () => pageResponse("error"),
    }, handler);
  } catch (error) {
    throw explainListenError(error, redirect);
  }
  port = server.addr.port;
  let closing: Promise<void> | undefined;
  return {
    port,
    close(): Promise<void> {
      closing ??= server.shutdown().then(() => server.finished);
      return closing;
    },
  };
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
