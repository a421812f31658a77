// Shared by the Chromium end-to-end tests: the page's script bundled from
// the module, a static server for it on a loopback port (a secure context,
// so navigator.locks exists), and typed calls into the page.

import type { FakeAccountsServer } from "../testing/fake_accounts_server.ts";
import type { Page } from "../tests/_chromium.ts";
import type { PageApi, PageConfig } from "./_test_page.ts";

export const CLIENT_ID = "spa-client-id";
/** Registered without a port: matches the app server's port, whatever it is. */
export const REGISTERED_REDIRECT_URI = "http://127.0.0.1/callback";

/** Bundles `_test_page.ts` (and so the module) for the browser. */
export async function bundlePage(): Promise<string> {
  const entry = new URL("./_test_page.ts", import.meta.url);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["bundle", "--quiet", "--platform=browser", entry.pathname],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `deno bundle failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return new TextDecoder().decode(output.stdout);
}

/** The single-page app under test, served on 127.0.0.1. */
export interface TestApp extends AsyncDisposable {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  readonly url: string;
  /** The page Spotify redirects back to. */
  readonly redirectUri: string;
  close(): Promise<void>;
}

const HTML = `<!doctype html>
<html><head><meta charset="utf-8"><title>e2e</title>
<script type="module" src="/page.js"></script></head><body></body></html>`;

/** Serves `script` at `/page.js` and the page that loads it everywhere else. */
export function serveApp(script: string): Promise<TestApp> {
  const listening = Promise.withResolvers<Deno.NetAddr>();
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    onListen: (address) => listening.resolve(address as Deno.NetAddr),
  }, (request) => {
    const { pathname } = new URL(request.url);
    if (pathname === "/favicon.ico") return new Response(null, { status: 404 });
    return pathname === "/page.js"
      ? new Response(script, {
        headers: { "content-type": "text/javascript; charset=utf-8" },
      })
      : new Response(HTML, {
        headers: { "content-type": "text/html; charset=utf-8" },
      });
  });
  return listening.promise.then((address) => {
    const url = `http://127.0.0.1:${address.port}`;
    let closed: Promise<void> | undefined;
    const close = () => closed ??= server.shutdown();
    return {
      url,
      redirectUri: `${url}/callback`,
      close,
      [Symbol.asyncDispose]: close,
    };
  });
}

/** The page's configuration for `server` and `app`. */
export function pageConfig(
  server: FakeAccountsServer,
  app: TestApp,
): PageConfig {
  return {
    accountsUrl: server.url,
    clientId: CLIENT_ID,
    redirectUri: app.redirectUri,
  };
}

/** Calls `globalThis.spotifySdk[name](...args)` in `page`. */
export function call<K extends keyof PageApi>(
  page: Page,
  name: K,
  ...args: Parameters<PageApi[K]>
): Promise<Awaited<ReturnType<PageApi[K]>>> {
  return page.evaluate(
    (name: string, args: unknown[]) =>
      // deno-lint-ignore no-explicit-any
      (globalThis as any).spotifySdk[name](...args),
    name,
    args,
  ) as Promise<Awaited<ReturnType<PageApi[K]>>>;
}

/**
 * Runs `action` in `page` (which navigates away) and waits until the
 * navigation, redirects included, has loaded its last page.
 */
export async function navigateBy(
  page: Page,
  action: () => Promise<unknown>,
): Promise<void> {
  await Promise.all([page.waitForNavigation(), action()]);
}
