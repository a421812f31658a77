// authorizeLocal() driven by a real browser: headless Chromium follows the
// fake accounts service's 302 to the loopback callback, as a user's browser
// follows Spotify's. Chromium must be installed (CI installs it with
// `apt-get install -y chromium`); without it these tests fail, saying so,
// rather than pass without having run.

import assert from "node:assert/strict";
import { AuthorizationCode } from "./authorization_code.ts";
import { createAuthorizedFetch } from "./authorized_fetch.ts";
import { authorizeLocal } from "./authorize_local.ts";
import { SpotifyAuthError } from "./errors.ts";
import {
  FakeAccountsServer,
  type FakeAccountsServerOptions,
} from "../testing/mod.ts";

const CHROMIUM_NAMES = ["chromium", "chromium-browser", "google-chrome"];
const BROWSER_LIMIT_MS = 15_000;

/** The first Chromium on `PATH`, or `undefined`. */
function findChromium(path: string): string | undefined {
  for (const directory of path.split(":")) {
    if (directory === "") continue;
    for (const name of CHROMIUM_NAMES) {
      try {
        const info = Deno.statSync(`${directory}/${name}`);
        if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) {
          return `${directory}/${name}`;
        }
      } catch {
        // Not there: try the next one.
      }
    }
  }
  return undefined;
}

/**
 * The Chromium to run.
 *
 * @throws {Error} Saying that Chromium is missing and how to install it.
 */
function requireChromium(
  path = Deno.env.get("PATH") ?? "/usr/bin:/bin",
): string {
  const found = findChromium(path);
  if (found === undefined) {
    throw new Error(
      `Chromium is missing (looked for ${
        CHROMIUM_NAMES.join(", ")
      } on PATH), so the real-browser login tests cannot run: install it with "apt-get install -y chromium"`,
    );
  }
  return found;
}

interface BrowserVisit {
  /** The DOM of the page the browser ended on. */
  dom: string;
  /** The browser's own log, for failure messages. */
  log: string;
}

/**
 * Loads `url` in a fresh headless Chromium profile and returns the final
 * page's DOM. Chromium is killed (if still running) and its profile removed
 * on every path.
 */
async function visitWithChromium(url: string): Promise<BrowserVisit> {
  const chromium = requireChromium();
  const profile = await Deno.makeTempDir({ prefix: "authorize_local_e2e_" });
  const child = new Deno.Command(chromium, {
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      `--user-data-dir=${profile}`,
      "--dump-dom",
      url,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const limit = setTimeout(() => kill(child), BROWSER_LIMIT_MS);
  try {
    const output = await child.output();
    const decoder = new TextDecoder();
    return {
      dom: decoder.decode(output.stdout),
      log: decoder.decode(output.stderr),
    };
  } finally {
    clearTimeout(limit);
    kill(child);
    await Deno.remove(profile, { recursive: true }).catch(() => {});
  }
}

function kill(child: Deno.ChildProcess): void {
  try {
    child.kill("SIGKILL");
  } catch {
    // Already exited.
  }
}

async function listenFake(
  options: FakeAccountsServerOptions = {},
): Promise<FakeAccountsServer> {
  const server = new FakeAccountsServer(options);
  await server.listen({ hostname: "127.0.0.1", port: 0 });
  return server;
}

async function assertPortClosed(port: number): Promise<void> {
  await assert.rejects(
    Deno.connect({ hostname: "127.0.0.1", port }),
    Deno.errors.ConnectionRefused,
  );
}

Deno.test({
  name: "authorizeLocal() logs in through a real headless Chromium",
  async fn() {
    requireChromium();
    await using server = await listenFake();
    await using auth = new AuthorizationCode({
      clientId: "test-client-id",
      redirectUri: "http://127.0.0.1/callback",
      scope: "user-read-private",
      pkce: true,
      accountsUrl: server.url,
    });
    let port = 0;
    let visit: BrowserVisit | undefined;
    const token = await authorizeLocal(auth, {
      openBrowser: false,
      timeoutMs: BROWSER_LIMIT_MS,
      onAuthorizationUrl: async (url) => {
        port = Number(
          new URL(new URL(url).searchParams.get("redirect_uri")!).port,
        );
        visit = await visitWithChromium(url);
      },
    });
    assert.ok(visit, "Chromium did not run");
    assert.match(visit.dom, /<h1>Logged in to Spotify<\/h1>/, visit.log);
    for (const secret of [token.accessToken, token.refreshToken!]) {
      assert.ok(!visit.dom.includes(secret));
    }
    assert.equal(
      server.inspectAccessToken(token.accessToken)?.clientId,
      "test-client-id",
    );
    assert.equal(token.scope, "user-read-private");
    const spotifyFetch = createAuthorizedFetch(auth);
    const me = await (await spotifyFetch(`${server.url}/v1/me`)).json();
    assert.equal(me.display_name, "Test User");
    await assertPortClosed(port);
  },
});

Deno.test({
  name:
    "authorizeLocal() rejects with access_denied when the user refuses in a real headless Chromium",
  async fn() {
    requireChromium();
    await using server = await listenFake({ consent: "deny" });
    await using auth = new AuthorizationCode({
      clientId: "test-client-id",
      clientSecret: "test-client-secret",
      redirectUri: "http://127.0.0.1/callback",
      accountsUrl: server.url,
    });
    let port = 0;
    let visit: BrowserVisit | undefined;
    await assert.rejects(
      authorizeLocal(auth, {
        openBrowser: false,
        timeoutMs: BROWSER_LIMIT_MS,
        onAuthorizationUrl: async (url) => {
          port = Number(
            new URL(new URL(url).searchParams.get("redirect_uri")!).port,
          );
          visit = await visitWithChromium(url);
        },
      }),
      (error: unknown) =>
        error instanceof SpotifyAuthError && error.code === "access_denied",
    );
    assert.ok(visit, "Chromium did not run");
    assert.match(visit.dom, /<h1>Spotify login cancelled<\/h1>/, visit.log);
    assert.equal(server.tokenRequestCount, 0);
    await assertPortClosed(port);
  },
});

Deno.test("the real-browser tests fail, saying how to install Chromium, when it is missing", () => {
  const empty = Deno.makeTempDirSync({ prefix: "authorize_local_e2e_path_" });
  try {
    assert.throws(
      () => requireChromium(empty),
      /Chromium is missing .*apt-get install -y chromium/,
    );
  } finally {
    Deno.removeSync(empty);
  }
});
