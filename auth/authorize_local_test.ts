import assert from "node:assert/strict";
import { browserCommand } from "./_browser.ts";
import { type LoopbackPage, pageResponse } from "./_loopback_pages.ts";
import { parseLoopbackRedirectUri } from "./_loopback_redirect.ts";
import { serveLoopback } from "./_loopback_server.ts";
import { AuthorizationCode } from "./authorization_code.ts";
import { authorizeLocal } from "./authorize_local.ts";
import { SpotifyAuthError } from "./errors.ts";
import type { TokenInfo } from "./token.ts";
import {
  FakeAccountsServer,
  type FakeAccountsServerOptions,
} from "../testing/mod.ts";

const encoder = new TextEncoder();
// Logins that should finish fail fast instead of waiting the default 5 min.
const GUARD_MS = 10_000;

async function listenFake(
  options: FakeAccountsServerOptions = {},
): Promise<FakeAccountsServer> {
  const server = new FakeAccountsServer(options);
  await server.listen({ hostname: "127.0.0.1", port: 0 });
  return server;
}

function confidentialAuth(
  server: FakeAccountsServer,
  redirectUri = "http://127.0.0.1/callback",
): AuthorizationCode {
  return new AuthorizationCode({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    redirectUri,
    scope: "user-read-private",
    accountsUrl: server.url,
    maxRetries: 0,
  });
}

function pkceAuth(
  server: FakeAccountsServer,
  redirectUri = "http://127.0.0.1/callback",
): AuthorizationCode {
  return new AuthorizationCode({
    clientId: "test-client-id",
    redirectUri,
    scope: "user-read-private",
    pkce: true,
    accountsUrl: server.url,
    maxRetries: 0,
  });
}

interface Page {
  status: number;
  body: string;
  headers: Headers;
}

/** What a browser does with a URL: follow redirects, read the page. */
async function visit(url: string | URL, init?: RequestInit): Promise<Page> {
  const response = await fetch(url, init);
  return {
    status: response.status,
    body: await response.text(),
    headers: response.headers,
  };
}

/** A GET with any `Host` header, which `fetch` cannot send. */
async function rawGet(
  port: number,
  target: string,
  host: string,
): Promise<{ status: number; text: string }> {
  const connection = await Deno.connect({ hostname: "127.0.0.1", port });
  await connection.write(encoder.encode(
    `GET ${target} HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`,
  ));
  // Reading to the end closes the connection.
  const text = await new Response(connection.readable).text();
  return { status: Number(text.split(" ", 2)[1]), text };
}

function redirectUriOf(authorizeUrl: string): URL {
  return new URL(new URL(authorizeUrl).searchParams.get("redirect_uri")!);
}

async function assertPortClosed(
  port: number,
  hostname = "127.0.0.1",
): Promise<void> {
  await assert.rejects(
    Deno.connect({ hostname, port }),
    Deno.errors.ConnectionRefused,
  );
}

function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const { port } = listener.addr;
  listener.close();
  return port;
}

/** Runs `fn` with `Deno.listen` replaced by one that fails the test. */
async function withoutListen(fn: () => Promise<void>): Promise<number> {
  const listen = Deno.listen;
  let calls = 0;
  (Deno as { listen: unknown }).listen = () => {
    calls++;
    throw new Error("Deno.listen must not be called");
  };
  try {
    await fn();
  } finally {
    (Deno as { listen: unknown }).listen = listen;
  }
  return calls;
}

/** Captures `console.error` while `fn` runs. */
async function captureStderr<T>(
  fn: (lines: string[]) => Promise<T>,
): Promise<{ result: T; lines: string[] }> {
  const original = console.error;
  const lines: string[] = [];
  console.error = (...args: unknown[]) => {
    lines.push(args.map(String).join(" "));
  };
  try {
    return { result: await fn(lines), lines };
  } finally {
    console.error = original;
  }
}

// --- redirect URI validation ------------------------------------------------

const INVALID_REDIRECT_URIS: [string, RegExp][] = [
  [
    "https://127.0.0.1:8080/callback",
    /uses https.*"http:\/\/127\.0\.0\.1:8080\/callback"/,
  ],
  [
    "https://example.com/callback",
    /uses https.*"http:\/\/127\.0\.0\.1:8080\/callback"/,
  ],
  ["ftp://127.0.0.1:8080/callback", /must start with "http:\/\/"/],
  [
    "http://example.com:8080/callback",
    /not on this machine.*"http:\/\/127\.0\.0\.1:8080\/callback"/,
  ],
  ["http://192.168.1.20:8080/callback", /not on this machine/],
  ["http://127.0.0.2:8080/callback", /not on this machine/],
  ["http://0.0.0.0:8080/callback", /not on this machine/],
  ["http://user@127.0.0.1:8080/callback", /user name or password/],
  ["http://127.0.0.1:8080/callback#done", /fragment/],
  ["http://127.0.0.1:8080/callback#", /fragment/],
  ["http://127.0.0.1:0/callback", /port 0.*"http:\/\/127\.0\.0\.1\/callback"/],
  ["http://127.0.0.1:/callback", /empty port/],
];

/**
 * A provider with any redirect URI: `AuthorizationCode` itself refuses most
 * of these at construction, and authorizeLocal must not rely on that.
 */
function providerWithRedirectUri(redirectUri: string): AuthorizationCode {
  const fail = () => {
    throw new Error("the provider must not be used");
  };
  return {
    redirectUri,
    createAuthorizationRequest: fail,
    parseResponseUrl: fail,
    exchangeCode: fail,
  } as unknown as AuthorizationCode;
}

for (const [redirectUri, message] of INVALID_REDIRECT_URIS) {
  Deno.test(`authorizeLocal() rejects the redirect URI ${redirectUri} before opening a socket`, async () => {
    const auth = providerWithRedirectUri(redirectUri);
    let shown = 0;
    const listenCalls = await withoutListen(async () => {
      await assert.rejects(
        authorizeLocal(auth, {
          openBrowser: false,
          timeoutMs: GUARD_MS,
          onAuthorizationUrl: () => void shown++,
        }),
        (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.match(error.message, message);
          assert.match(error.message, /Spotify dashboard|leave/);
          return true;
        },
      );
    });
    assert.equal(listenCalls, 0);
    assert.equal(shown, 0);
  });
}

Deno.test("authorizeLocal() never shows the password of a redirect URI in its error", async () => {
  const auth = providerWithRedirectUri(
    "http://user:hunter2@127.0.0.1:8080/callback",
  );
  await assert.rejects(
    authorizeLocal(auth, { openBrowser: false }),
    (error: unknown) => {
      assert.ok(error instanceof TypeError);
      assert.doesNotMatch(error.message, /hunter2/);
      return true;
    },
  );
});

Deno.test("authorizeLocal() rejects bad options before opening a socket", async () => {
  const auth = new AuthorizationCode({
    clientId: "id",
    clientSecret: "secret",
    redirectUri: "http://127.0.0.1/callback",
  });
  const listenCalls = await withoutListen(async () => {
    for (const timeoutMs of [0, -1, NaN, Infinity, 2 ** 31]) {
      await assert.rejects(
        authorizeLocal(auth, { openBrowser: false, timeoutMs }),
        RangeError,
      );
    }
    await assert.rejects(
      authorizeLocal(auth, {
        openBrowser: false,
        timeoutMs: "1000" as unknown as number,
      }),
      (error: unknown) => {
        assert.ok(error instanceof TypeError);
        assert.match(
          error.message,
          /"timeoutMs" must be .*, got the string "1000"/,
        );
        return true;
      },
    );
    await assert.rejects(
      authorizeLocal(auth, { openBrowser: false, state: "" }),
      TypeError,
    );
    await assert.rejects(
      authorizeLocal(auth, {
        onAuthorizationUrl: "print" as unknown as () => void,
      }),
      TypeError,
    );
    await assert.rejects(
      authorizeLocal({} as AuthorizationCode),
      /pass an AuthorizationCode/,
    );
    for (const pastedUrl of [true, "stdin", Deno.stdin]) {
      await assert.rejects(
        authorizeLocal(auth, {
          pastedUrl: pastedUrl as unknown as ReadableStream<Uint8Array>,
        }),
        (error: unknown) => {
          assert.ok(error instanceof TypeError);
          assert.match(error.message, /"pastedUrl" must be a ReadableStream/);
          return true;
        },
      );
    }
    const locked = new ReadableStream<Uint8Array>();
    locked.getReader();
    await assert.rejects(
      authorizeLocal(auth, { pastedUrl: locked }),
      /"pastedUrl" is locked/,
    );
  });
  assert.equal(listenCalls, 0);
});

Deno.test("authorizeLocal() with an aborted signal rejects with its reason and opens no socket", async () => {
  const auth = new AuthorizationCode({
    clientId: "id",
    clientSecret: "secret",
    redirectUri: "http://127.0.0.1/callback",
  });
  const reason = new Error("cancelled by the user");
  const listenCalls = await withoutListen(async () => {
    await assert.rejects(
      authorizeLocal(auth, {
        openBrowser: false,
        timeoutMs: GUARD_MS,
        signal: AbortSignal.abort(reason),
      }),
      (error) => error === reason,
    );
  });
  assert.equal(listenCalls, 0);
});

// --- the login ----------------------------------------------------------------

Deno.test("authorizeLocal() logs in a confidential client on a fixed port", async () => {
  const port = freePort();
  const redirectUri = `http://127.0.0.1:${port}/callback`;
  await using server = await listenFake({
    clients: [{
      clientId: "test-client-id",
      clientSecret: "test-client-secret",
      redirectUris: [redirectUri],
    }],
  });
  await using auth = confidentialAuth(server, redirectUri);
  const shown: string[] = [];
  let page: Page | undefined;
  const token = await authorizeLocal(auth, {
    openBrowser: false,
    timeoutMs: GUARD_MS,
    onAuthorizationUrl: async (url) => {
      shown.push(url);
      page = await visit(url);
    },
  });
  assert.equal(shown.length, 1);
  assert.equal(redirectUriOf(shown[0]).href, redirectUri);
  assert.equal(page?.status, 200);
  assert.match(page!.body, /Logged in to Spotify/);
  assert.ok(token.refreshToken);
  assert.equal(token.scope, "user-read-private");
  assert.equal(await auth.getAccessToken(), token.accessToken);
  const exchanges = server.requests.filter((r) => r.endpoint === "token");
  assert.deepEqual(
    exchanges.map((r) => [r.grantType, r.clientId, r.status]),
    [["authorization_code", "test-client-id", 200]],
  );
  await assertPortClosed(port);
});

Deno.test("authorizeLocal() binds a free port when the redirect URI has none and uses it for the authorize URL and the exchange", async () => {
  await using server = await listenFake();
  await using auth = pkceAuth(server);
  let authorizeUrl = "";
  const token = await authorizeLocal(auth, {
    openBrowser: false,
    timeoutMs: GUARD_MS,
    onAuthorizationUrl: async (url) => {
      authorizeUrl = url;
      await visit(url);
    },
  });
  const redirect = redirectUriOf(authorizeUrl);
  const port = Number(redirect.port);
  assert.ok(port > 0);
  assert.equal(redirect.href, `http://127.0.0.1:${port}/callback`);
  const params = new URL(authorizeUrl).searchParams;
  assert.equal(params.get("code_challenge_method"), "S256");
  assert.ok(params.get("code_challenge"));
  // The fake rejects an exchange whose redirect_uri differs from the
  // authorize request's, and a PKCE code without the right verifier.
  assert.ok(token.refreshToken);
  await assertPortClosed(port);
});

Deno.test("AuthorizationCode.authorizeLocal() runs the same login", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  const token = await auth.authorizeLocal({
    openBrowser: false,
    timeoutMs: GUARD_MS,
    onAuthorizationUrl: async (url) => void await visit(url),
  });
  assert.equal(await auth.getAccessToken(), token.accessToken);
});

Deno.test("authorizeLocal() passes state and showDialog to the authorize URL", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  let authorizeUrl = "";
  await authorizeLocal(auth, {
    openBrowser: false,
    timeoutMs: GUARD_MS,
    state: "my-own-state",
    showDialog: true,
    onAuthorizationUrl: async (url) => {
      authorizeUrl = url;
      await visit(url);
    },
  });
  const params = new URL(authorizeUrl).searchParams;
  assert.equal(params.get("state"), "my-own-state");
  assert.equal(params.get("show_dialog"), "true");
});

Deno.test("authorizeLocal() generates a 32-byte base64url state by default", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  let authorizeUrl = "";
  await authorizeLocal(auth, {
    openBrowser: false,
    timeoutMs: GUARD_MS,
    onAuthorizationUrl: async (url) => {
      authorizeUrl = url;
      await visit(url);
    },
  });
  const params = new URL(authorizeUrl).searchParams;
  assert.match(params.get("state")!, /^[A-Za-z0-9_-]{43}$/);
  assert.equal(params.has("show_dialog"), false);
});

Deno.test("authorizeLocal() answers 404 to other paths and 405 to other methods, and keeps waiting", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  const pages: Page[] = [];
  const token = await authorizeLocal(auth, {
    openBrowser: false,
    timeoutMs: GUARD_MS,
    onAuthorizationUrl: async (url) => {
      const redirect = redirectUriOf(url);
      pages.push(await visit(new URL("/", redirect)));
      pages.push(await visit(new URL("/favicon.ico", redirect)));
      pages.push(await visit(new URL("/callback/extra", redirect)));
      pages.push(await visit(redirect, { method: "POST" }));
      pages.push(await visit(url));
    },
  });
  assert.deepEqual(pages.map((page) => page.status), [404, 404, 404, 405, 200]);
  assert.ok(token.accessToken);
});

Deno.test("authorizeLocal() answers a forged callback with 400 and keeps waiting for the real one", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  const pages: Page[] = [];
  const token = await authorizeLocal(auth, {
    openBrowser: false,
    timeoutMs: GUARD_MS,
    onAuthorizationUrl: async (url) => {
      const redirect = redirectUriOf(url);
      pages.push(await visit(`${redirect}?code=forged&state=wrong`));
      pages.push(await visit(`${redirect}?code=forged`));
      pages.push(await visit(`${redirect}?error=access_denied&state=wrong`));
      pages.push(await visit(`${redirect}?error=access_denied`));
      pages.push(await visit(url));
    },
  });
  assert.deepEqual(pages.map((page) => page.status), [400, 400, 400, 400, 200]);
  for (const page of pages.slice(0, 4)) {
    assert.match(page.body, /does not belong to the login in progress/);
  }
  assert.ok(token.refreshToken);
  // The forged codes were never sent to the token endpoint.
  assert.equal(server.tokenRequestCount, 1);
});

Deno.test("authorizeLocal() ignores a callback with a foreign Host header, even with the right state", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  const answers: { status: number; text: string }[] = [];
  let page: Page | undefined;
  const token = await authorizeLocal(auth, {
    openBrowser: false,
    timeoutMs: GUARD_MS,
    onAuthorizationUrl: async (url) => {
      const callback = new URL(await server.authorize(url));
      const port = Number(callback.port);
      const target = `${callback.pathname}${callback.search}`;
      // A page on another site reaching the listener through DNS rebinding.
      answers.push(await rawGet(port, target, `attacker.example:${port}`));
      answers.push(await rawGet(port, target, "127.0.0.1"));
      answers.push(await rawGet(port, target, `localhost:${port}`));
      answers.push(await rawGet(port, target, `127.0.0.1:${port + 1}`));
      // The browser's own request still works afterwards.
      page = await visit(callback);
    },
  });
  assert.deepEqual(answers.map((answer) => answer.status), [
    400,
    400,
    400,
    400,
  ]);
  assert.equal(page?.status, 200);
  assert.ok(token.accessToken);
  assert.equal(server.tokenRequestCount, 1);
});

Deno.test("authorizeLocal() accepts a raw request with its own Host header", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  let answer: { status: number; text: string } | undefined;
  await authorizeLocal(auth, {
    openBrowser: false,
    timeoutMs: GUARD_MS,
    onAuthorizationUrl: async (url) => {
      const callback = new URL(await server.authorize(url));
      answer = await rawGet(
        Number(callback.port),
        `${callback.pathname}${callback.search}`,
        callback.host,
      );
    },
  });
  assert.equal(answer?.status, 200);
});

Deno.test("authorizeLocal() exchanges a code once when the callback arrives twice", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  let statuses: number[] = [];
  await authorizeLocal(auth, {
    openBrowser: false,
    timeoutMs: GUARD_MS,
    onAuthorizationUrl: async (url) => {
      const callback = await server.authorize(url);
      const pages = await Promise.all([visit(callback), visit(callback)]);
      statuses = pages.map((page) => page.status).sort();
    },
  });
  assert.deepEqual(statuses, [200, 409]);
  assert.equal(server.tokenRequestCount, 1);
});

Deno.test("authorizeLocal() rejects with access_denied when the user refuses, and shows a failure page", async () => {
  await using server = await listenFake({ consent: "deny" });
  await using auth = pkceAuth(server);
  let page: Page | undefined;
  let port = 0;
  await assert.rejects(
    authorizeLocal(auth, {
      openBrowser: false,
      timeoutMs: GUARD_MS,
      onAuthorizationUrl: async (url) => {
        port = Number(redirectUriOf(url).port);
        page = await visit(url);
      },
    }),
    (error: unknown) =>
      error instanceof SpotifyAuthError && error.code === "access_denied",
  );
  assert.equal(page?.status, 400);
  assert.match(page!.body, /login cancelled/);
  assert.equal(server.tokenRequestCount, 0);
  await assertPortClosed(port);
});

Deno.test("authorizeLocal() rejects with the exchange's error and shows a failure page", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  server.failNext({
    status: 400,
    body: {
      error: "invalid_grant",
      error_description: "Invalid authorization code",
    },
  });
  let page: Page | undefined;
  await assert.rejects(
    authorizeLocal(auth, {
      openBrowser: false,
      timeoutMs: GUARD_MS,
      onAuthorizationUrl: async (url) => void (page = await visit(url)),
    }),
    (error: unknown) =>
      error instanceof SpotifyAuthError && error.code === "invalid_grant",
  );
  assert.equal(page?.status, 502);
  assert.match(page!.body, /login failed/);
});

Deno.test("authorizeLocal() rejects with timeout and closes the server", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  let port = 0;
  await assert.rejects(
    authorizeLocal(auth, {
      openBrowser: false,
      timeoutMs: 20,
      onAuthorizationUrl: (url) =>
        void (port = Number(redirectUriOf(url).port)),
    }),
    (error: unknown) => {
      assert.ok(error instanceof SpotifyAuthError);
      assert.equal(error.code, "timeout");
      assert.match(error.message, /20 ms/);
      return true;
    },
  );
  assert.ok(port > 0);
  await assertPortClosed(port);
});

Deno.test("authorizeLocal() rejects with the abort reason and closes the server", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  const controller = new AbortController();
  const reason = new Error("login cancelled");
  let port = 0;
  let page: Page | undefined;
  await assert.rejects(
    authorizeLocal(auth, {
      openBrowser: false,
      timeoutMs: GUARD_MS,
      signal: controller.signal,
      onAuthorizationUrl: async (url) => {
        port = Number(redirectUriOf(url).port);
        // The server answers while the login is still going on...
        page = await visit(new URL("/elsewhere", redirectUriOf(url)));
        controller.abort(reason);
      },
    }),
    (error) => error === reason,
  );
  assert.equal(page?.status, 404);
  await assertPortClosed(port);
});

Deno.test("authorizeLocal() aborted during the exchange rejects with the reason and still answers the browser", async () => {
  await using server = await listenFake();
  const controller = new AbortController();
  const reason = new Error("stop");
  await using auth = new AuthorizationCode({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    redirectUri: "http://127.0.0.1/callback",
    accountsUrl: server.url,
    maxRetries: 0,
    fetch: (input, init) => {
      controller.abort(reason);
      return fetch(input, init);
    },
  });
  let browser: Promise<Page> | undefined;
  let port = 0;
  await assert.rejects(
    authorizeLocal(auth, {
      openBrowser: false,
      timeoutMs: GUARD_MS,
      signal: controller.signal,
      onAuthorizationUrl: (url) => {
        port = Number(redirectUriOf(url).port);
        browser = visit(url);
      },
    }),
    (error) => error === reason,
  );
  const page = await browser!;
  assert.equal(page.status, 502);
  await assertPortClosed(port);
});

Deno.test("authorizeLocal() rejects with the error of onAuthorizationUrl and closes the server", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  let port = 0;
  await assert.rejects(
    authorizeLocal(auth, {
      openBrowser: false,
      timeoutMs: GUARD_MS,
      onAuthorizationUrl: (url) => {
        port = Number(redirectUriOf(url).port);
        throw new Error("no terminal");
      },
    }),
    /no terminal/,
  );
  await assertPortClosed(port);
});

Deno.test("authorizeLocal() reports a port in use with what to change", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const auth = new AuthorizationCode({
    clientId: "id",
    clientSecret: "secret",
    redirectUri: `http://127.0.0.1:${listener.addr.port}/callback`,
  });
  await assert.rejects(
    authorizeLocal(auth, { openBrowser: false }),
    (error: unknown) => {
      assert.ok(error instanceof Deno.errors.AddrInUse);
      assert.match(error.message, /already in use/);
      assert.match(error.message, /"http:\/\/127\.0\.0\.1\/callback"/);
      return true;
    },
  );
});

Deno.test("authorizeLocal() serves an [::1] redirect URI on the IPv6 loopback", async () => {
  await using server = await listenFake({
    clients: [{
      clientId: "test-client-id",
      clientSecret: "test-client-secret",
      redirectUris: ["http://[::1]/callback"],
    }],
  });
  await using auth = confidentialAuth(server, "http://[::1]/callback");
  let redirect: URL | undefined;
  let page: Page | undefined;
  const token = await authorizeLocal(auth, {
    openBrowser: false,
    timeoutMs: GUARD_MS,
    onAuthorizationUrl: async (url) => {
      redirect = redirectUriOf(url);
      page = await visit(url);
    },
  });
  assert.equal(redirect?.hostname, "[::1]");
  assert.equal(page?.status, 200);
  assert.ok(token.refreshToken);
  await assertPortClosed(Number(redirect!.port), "::1");
});

Deno.test("authorizeLocal() accepts localhost with a warning and binds 127.0.0.1", async () => {
  // Spotify (and the fake) refuse to register localhost: answer the token
  // request in-process.
  let exchangedRedirectUri: string | null = null;
  await using auth = new AuthorizationCode({
    clientId: "id",
    clientSecret: "secret",
    redirectUri: "http://localhost/callback",
    maxRetries: 0,
    fetch: (_input, init) => {
      const form = new URLSearchParams(String(init?.body));
      exchangedRedirectUri = form.get("redirect_uri");
      return Promise.resolve(Response.json({
        access_token: "access",
        token_type: "Bearer",
        expires_in: 3600,
        refresh_token: "refresh",
      }));
    },
  });
  let redirect: URL | undefined;
  let page: Page | undefined;
  const { result: token, lines } = await captureStderr(() =>
    authorizeLocal(auth, {
      openBrowser: false,
      timeoutMs: GUARD_MS,
      onAuthorizationUrl: async (url) => {
        redirect = redirectUriOf(url);
        const state = new URL(url).searchParams.get("state")!;
        // What the browser requests: Host is localhost:PORT.
        page = await visit(`${redirect}?code=c&state=${state}`);
      },
    })
  );
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /warning: .*uses localhost.*"http:\/\/127\.0\.0\.1:8080\/callback"/,
  );
  assert.equal(redirect?.hostname, "localhost");
  assert.equal(exchangedRedirectUri, redirect?.href);
  assert.equal(page?.status, 200);
  assert.equal(token.refreshToken, "refresh");
});

// --- showing the URL ----------------------------------------------------------

async function withBrowserVariable<T>(
  value: string | undefined,
  fn: () => Promise<T>,
): Promise<T> {
  const previous = Deno.env.get("BROWSER");
  if (value === undefined) Deno.env.delete("BROWSER");
  else Deno.env.set("BROWSER", value);
  try {
    return await fn();
  } finally {
    if (previous === undefined) Deno.env.delete("BROWSER");
    else Deno.env.set("BROWSER", previous);
  }
}

Deno.test("authorizeLocal() still calls onAuthorizationUrl when the browser cannot be opened", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  const shown: string[] = [];
  const token = await withBrowserVariable(
    "/nonexistent/spotify-sdk-test-browser",
    () =>
      authorizeLocal(auth, {
        timeoutMs: GUARD_MS,
        onAuthorizationUrl: async (url) => {
          shown.push(url);
          await visit(url);
        },
      }),
  );
  assert.equal(shown.length, 1);
  assert.ok(token.accessToken);
});

Deno.test("authorizeLocal() prints the URL and why the browser did not open", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  const visited: Promise<Page>[] = [];
  const { result: token, lines } = await withBrowserVariable(
    "/nonexistent/spotify-sdk-test-browser --new-window",
    () =>
      captureStderr((lines) => {
        // Play the user: open the printed URL once it appears.
        const print = console.error;
        console.error = (...args: unknown[]) => {
          print(...args);
          const url = lines.at(-1)?.match(/https?:\/\/\S+/)?.[0];
          if (url !== undefined) visited.push(visit(url));
        };
        return authorizeLocal(auth, { timeoutMs: GUARD_MS, pastedUrl: false });
      }),
  );
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /^Could not open a browser \("\/nonexistent\/spotify-sdk-test-browser" was not found\)\. Open this URL to log in to Spotify:\n\n {2}http:\/\/127\.0\.0\.1:\d+\/authorize\?/,
  );
  assert.equal((await visited[0]).status, 200);
  assert.ok(token.accessToken);
});

Deno.test("authorizeLocal() with openBrowser: false prints the URL with an instruction", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  const visited: Promise<Page>[] = [];
  const { lines } = await captureStderr((lines) => {
    const print = console.error;
    console.error = (...args: unknown[]) => {
      print(...args);
      visited.push(visit(lines.at(-1)!.match(/http:\/\/\S+/)![0]));
    };
    return authorizeLocal(auth, {
      openBrowser: false,
      timeoutMs: GUARD_MS,
      pastedUrl: false,
    });
  });
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /^Open this URL in your browser to log in to Spotify:\n\n {2}http:\/\/127\.0\.0\.1:\d+\/authorize\?/,
  );
  await visited[0];
});

Deno.test("browserCommand() uses $BROWSER, with %s for the URL, else the platform opener", () => {
  const url = "https://accounts.spotify.com/authorize?a=1&b=2";
  assert.deepEqual(browserCommand(url, "linux", undefined), {
    command: "xdg-open",
    args: [url],
  });
  assert.deepEqual(browserCommand(url, "freebsd", undefined), {
    command: "xdg-open",
    args: [url],
  });
  assert.deepEqual(browserCommand(url, "darwin", undefined), {
    command: "open",
    args: [url],
  });
  assert.deepEqual(browserCommand(url, "windows", undefined), {
    command: "cmd",
    args: [
      "/c",
      "start",
      "",
      "https://accounts.spotify.com/authorize?a=1^&b=2",
    ],
  });
  assert.deepEqual(browserCommand(url, "linux", "firefox"), {
    command: "firefox",
    args: [url],
  });
  assert.deepEqual(browserCommand(url, "linux", "chromium --new-window"), {
    command: "chromium",
    args: ["--new-window", url],
  });
  assert.deepEqual(browserCommand(url, "linux", "w3m %s -dump:lynx"), {
    command: "w3m",
    args: [url, "-dump"],
  });
  assert.deepEqual(browserCommand(url, "linux", ""), {
    command: "xdg-open",
    args: [url],
  });
});

// --- what the pages contain ---------------------------------------------------

Deno.test("authorizeLocal() pages contain no code, state, token or secret", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  const pages: Page[] = [];
  let code = "";
  let state = "";
  const token: TokenInfo = await authorizeLocal(auth, {
    openBrowser: false,
    timeoutMs: GUARD_MS,
    onAuthorizationUrl: async (url) => {
      const callback = new URL(await server.authorize(url));
      code = callback.searchParams.get("code")!;
      state = callback.searchParams.get("state")!;
      const redirect = redirectUriOf(url);
      pages.push(await visit(`${redirect}?code=${code}&state=forged-${state}`));
      pages.push(await visit(`${redirect}?code=${code}`));
      pages.push(
        await visit(new URL(`/x?code=${code}&state=${state}`, redirect)),
      );
      pages.push(await visit(callback));
    },
  });
  assert.equal(pages.at(-1)?.status, 200);
  const secrets = [
    code,
    state,
    token.accessToken,
    token.refreshToken!,
    "test-client-secret",
  ];
  for (const page of pages) {
    for (const secret of secrets) assert.ok(!page.body.includes(secret));
  }
});

Deno.test("authorizeLocal() pages are self-contained and never cached", () => {
  const kinds: LoopbackPage[] = [
    "success",
    "denied",
    "failed",
    "state_mismatch",
    "already_handled",
    "not_found",
    "method_not_allowed",
    "bad_host",
    "error",
  ];
  for (const kind of kinds) {
    const response = pageResponse(kind);
    assert.equal(response.headers.get("cache-control"), "no-store");
    assert.equal(response.headers.get("referrer-policy"), "no-referrer");
    assert.match(
      response.headers.get("content-security-policy")!,
      /default-src 'none'/,
    );
    assert.match(response.headers.get("content-type")!, /^text\/html/);
  }
  return Promise.all(kinds.map(async (kind) => {
    const body = await pageResponse(kind).text();
    assert.match(body, /^<!doctype html>/);
    assert.doesNotMatch(body, /src=|href=|url\(|<script|@import/i);
  })).then(() => {});
});

// --- clients that stall --------------------------------------------------------

/** Fails (instead of hanging the run) when `promise` is still pending after `ms`. */
async function settlesWithin<T>(
  promise: Promise<T>,
  ms: number,
  what: string,
): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new assert.AssertionError({
            message: `${what}: still pending after ${ms} ms`,
          }),
        ),
      ms,
    );
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Connects to the listener and sends `text`; never reads the answer. */
async function rawSend(port: number, text: string): Promise<Deno.TcpConn> {
  const connection = await Deno.connect({ hostname: "127.0.0.1", port });
  if (text !== "") await connection.write(encoder.encode(text));
  return connection;
}

/** Reads until the server closes (or resets) the connection, then closes it. */
async function closedByServer(connection: Deno.TcpConn): Promise<void> {
  const scratch = new Uint8Array(4096);
  try {
    while ((await connection.read(scratch)) !== null) {
      // What the server answered does not matter here.
    }
  } catch (error) {
    if (!(error instanceof Deno.errors.ConnectionReset)) throw error;
  } finally {
    connection.close();
  }
}

const STALLED_HEAD = (host: string) =>
  `GET /callback HTTP/1.1\r\nHost: ${host}\r\nContent-Length: 10\r\n\r\n`;

Deno.test("authorizeLocal() times out on time while a client holds a callback request without its body", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  let stalled: Deno.TcpConn | undefined;
  const login = authorizeLocal(auth, {
    openBrowser: false,
    pastedUrl: false,
    timeoutMs: 100,
    onAuthorizationUrl: async (url) => {
      const redirect = redirectUriOf(url);
      stalled = await rawSend(
        Number(redirect.port),
        STALLED_HEAD(redirect.host),
      );
    },
  });
  await assert.rejects(
    settlesWithin(login, 1500, "authorizeLocal()"),
    (error: unknown) =>
      error instanceof SpotifyAuthError && error.code === "timeout",
  );
  await settlesWithin(closedByServer(stalled!), 500, "the stalled connection");
});

Deno.test("authorizeLocal() rejects on abort while clients hold a request head or half of one", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  const controller = new AbortController();
  const reason = new Error("cancelled");
  const stalled: Deno.TcpConn[] = [];
  const login = authorizeLocal(auth, {
    openBrowser: false,
    pastedUrl: false,
    timeoutMs: GUARD_MS,
    signal: controller.signal,
    onAuthorizationUrl: async (url) => {
      const redirect = redirectUriOf(url);
      const port = Number(redirect.port);
      stalled.push(await rawSend(port, STALLED_HEAD(redirect.host)));
      stalled.push(
        await rawSend(port, `GET /callback HTTP/1.1\r\nHost: ${redirect.host}`),
      );
      controller.abort(reason);
    },
  });
  await assert.rejects(
    settlesWithin(login, 1500, "authorizeLocal()"),
    (error) => error === reason,
  );
  await settlesWithin(
    Promise.all(stalled.map(closedByServer)),
    500,
    "the stalled connections",
  );
});

Deno.test("authorizeLocal() finishes a real login while other clients stall, and cuts them", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  const stalled: Deno.TcpConn[] = [];
  let page: Page | undefined;
  let port = 0;
  const login = authorizeLocal(auth, {
    openBrowser: false,
    pastedUrl: false,
    timeoutMs: GUARD_MS,
    onAuthorizationUrl: async (url) => {
      const redirect = redirectUriOf(url);
      port = Number(redirect.port);
      // A head without its body, answered but never read; a connection
      // that never sends anything.
      stalled.push(await rawSend(port, STALLED_HEAD(redirect.host)));
      stalled.push(await rawSend(port, ""));
      page = await visit(url);
    },
  });
  const token = await settlesWithin(login, 3000, "authorizeLocal()");
  assert.ok(token.refreshToken);
  assert.equal(page?.status, 200);
  await settlesWithin(
    Promise.all(stalled.map(closedByServer)),
    500,
    "the stalled connections",
  );
  await assertPortClosed(port);
});

Deno.test("serveLoopback() cuts a connection that does not send its request head in time, and keeps serving", async () => {
  const redirect = parseLoopbackRedirectUri("http://127.0.0.1/callback");
  const server = serveLoopback(
    redirect,
    () => Promise.resolve(new Response("callback")),
    { headTimeoutMs: 50 },
  );
  try {
    const slow = await rawSend(server.port, "GET /callback HTTP/1.1\r\n");
    await settlesWithin(closedByServer(slow), 1000, "the slow connection");
    const answer = await rawGet(
      server.port,
      "/callback",
      `127.0.0.1:${server.port}`,
    );
    assert.equal(answer.status, 200);
    assert.match(answer.text, /callback$/);
  } finally {
    await server.close();
  }
});

Deno.test("serveLoopback() close() cuts an answer that is not ready after the grace period", async () => {
  const redirect = parseLoopbackRedirectUri("http://127.0.0.1/callback");
  const called = Promise.withResolvers<void>();
  const server = serveLoopback(redirect, () => {
    called.resolve();
    return new Promise<Response>(() => {}); // never answers
  });
  const client = await rawSend(
    server.port,
    `GET /callback HTTP/1.1\r\nHost: 127.0.0.1:${server.port}\r\n\r\n`,
  );
  await called.promise;
  await settlesWithin(server.close({ graceMs: 20 }), 1000, "close()");
  await settlesWithin(closedByServer(client), 500, "the client connection");
  await assertPortClosed(server.port);
});

Deno.test("serveLoopback() answers a head that is too large with 431 and a malformed one with 400", async () => {
  const redirect = parseLoopbackRedirectUri("http://127.0.0.1/callback");
  const server = serveLoopback(
    redirect,
    () => Promise.resolve(new Response("callback")),
  );
  try {
    const huge = await rawGet(
      server.port,
      `/callback?${"a".repeat(20_000)}`,
      `127.0.0.1:${server.port}`,
    );
    assert.equal(huge.status, 431);
    const malformed = await rawGet(
      server.port,
      "/callback extra",
      `127.0.0.1:${server.port}`,
    );
    assert.equal(malformed.status, 400);
    const authority = await rawGet(
      server.port,
      `//127.0.0.1:${server.port}/callback`,
      `127.0.0.1:${server.port}`,
    );
    assert.equal(authority.status, 404);
  } finally {
    await server.close();
  }
});

// --- waiting, and pasted URLs -------------------------------------------------

function clock(time: number): string {
  const date = new Date(time);
  return `${String(date.getHours()).padStart(2, "0")}:${
    String(date.getMinutes()).padStart(2, "0")
  }`;
}

Deno.test("authorizeLocal() with the default onAuthorizationUrl says it waits for the browser and until when, in local HH:MM", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  const timeoutMs = 90 * 60_000;
  const before = Date.now();
  const visited: Promise<Page>[] = [];
  const { lines } = await captureStderr((lines) => {
    const print = console.error;
    console.error = (...args: unknown[]) => {
      print(...args);
      visited.push(visit(lines.at(-1)!.match(/http:\/\/\S+authorize\S+/)![0]));
    };
    return authorizeLocal(auth, {
      openBrowser: false,
      timeoutMs,
      pastedUrl: false,
    });
  });
  const after = Date.now();
  await visited[0];
  assert.equal(lines.length, 1);
  const match = lines[0].match(
    /Now waiting for the browser to return to (http:\/\/127\.0\.0\.1:\d+\/callback) … gives up at (?:\d{4}-\d\d-\d\d )?(\d\d:\d\d); Ctrl-C to cancel\./,
  );
  assert.ok(match, lines[0]);
  assert.ok(
    [clock(before + timeoutMs), clock(after + timeoutMs)].includes(match[2]),
    `${match[2]} is not ${clock(before + timeoutMs)}`,
  );
  // No paste hint when nothing is read.
  assert.doesNotMatch(lines[0], /paste/);
});

/** A stream standing in for stdin: what the user types or pastes. */
function keyboard(): {
  readable: ReadableStream<Uint8Array>;
  type(text: string): void;
  readonly cancelled: boolean;
} {
  let controller: ReadableStreamDefaultController<Uint8Array>;
  let cancelled = false;
  const readable = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
    cancel() {
      cancelled = true;
    },
  });
  return {
    readable,
    type: (text) => controller.enqueue(encoder.encode(text)),
    get cancelled() {
      return cancelled;
    },
  };
}

Deno.test("authorizeLocal() accepts a callback URL pasted on pastedUrl, for a browser on another machine", async () => {
  await using server = await listenFake();
  await using auth = pkceAuth(server);
  const keys = keyboard();
  const { result: token, lines } = await captureStderr(() =>
    authorizeLocal(auth, {
      openBrowser: false,
      timeoutMs: GUARD_MS,
      pastedUrl: keys.readable,
      onAuthorizationUrl: async (url) => {
        // The other machine's browser ends on the callback URL, which never
        // reaches this listener; the user pastes it, in two chunks, with CRLF.
        const callback = await server.authorize(url);
        keys.type(callback.slice(0, 20));
        keys.type(`${callback.slice(20)}\r\n`);
      },
    })
  );
  assert.ok(token.refreshToken);
  assert.equal(await auth.getAccessToken(), token.accessToken);
  assert.equal(server.tokenRequestCount, 1);
  assert.deepEqual(lines, []);
  assert.equal(keys.cancelled, true);
});

Deno.test("authorizeLocal() reports pasted lines that are not this login's callback on stderr and keeps waiting", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  const keys = keyboard();
  let callback = "";
  const { result: token, lines } = await captureStderr(() =>
    authorizeLocal(auth, {
      openBrowser: false,
      timeoutMs: GUARD_MS,
      pastedUrl: keys.readable,
      onAuthorizationUrl: async (url) => {
        callback = await server.authorize(url);
        const wrongState = new URL(callback);
        wrongState.searchParams.set("state", "someone-else");
        const noCode = new URL(callback);
        noCode.searchParams.delete("code");
        keys.type("\n  \nhello there\n");
        keys.type(`${url}\n`);
        keys.type(`${wrongState}\n`);
        keys.type(`${noCode}\n`);
        keys.type(`${"x".repeat(10_000)}\n`);
        keys.type(`  ${callback}  \n`);
      },
    })
  );
  assert.ok(token.refreshToken);
  assert.equal(server.tokenRequestCount, 1);
  assert.equal(lines.length, 5, lines.join("\n"));
  assert.match(lines[0], /^authorizeLocal: the pasted line is not a URL/);
  assert.match(lines[1], /the pasted URL is not the login callback/);
  assert.match(lines[2], /belongs to another login/);
  assert.match(lines[3], /the pasted URL has no code/);
  assert.match(lines[4], /too long/);
  const params = new URL(callback).searchParams;
  for (const line of lines) {
    assert.match(line, /still waiting/);
    assert.ok(!line.includes(params.get("code")!));
    assert.ok(!line.includes(params.get("state")!));
  }
});

Deno.test("authorizeLocal() rejects with access_denied when the pasted URL says the user refused", async () => {
  await using server = await listenFake({ consent: "deny" });
  await using auth = confidentialAuth(server);
  const keys = keyboard();
  await assert.rejects(
    authorizeLocal(auth, {
      openBrowser: false,
      timeoutMs: GUARD_MS,
      pastedUrl: keys.readable,
      onAuthorizationUrl: async (url) =>
        keys.type(`${await server.authorize(url)}\n`),
    }),
    (error: unknown) =>
      error instanceof SpotifyAuthError && error.code === "access_denied",
  );
  assert.equal(server.tokenRequestCount, 0);
  assert.equal(keys.cancelled, true);
});

Deno.test("authorizeLocal() cancels the pastedUrl stream when the browser completes the login", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  const keys = keyboard();
  await authorizeLocal(auth, {
    openBrowser: false,
    timeoutMs: GUARD_MS,
    pastedUrl: keys.readable,
    onAuthorizationUrl: async (url) => void await visit(url),
  });
  assert.equal(keys.cancelled, true);
});

Deno.test("authorizeLocal() cancels the pastedUrl stream when it times out", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  const keys = keyboard();
  await assert.rejects(
    authorizeLocal(auth, {
      openBrowser: false,
      timeoutMs: 20,
      pastedUrl: keys.readable,
      onAuthorizationUrl: () => {},
    }),
    (error: unknown) =>
      error instanceof SpotifyAuthError && error.code === "timeout",
  );
  assert.equal(keys.cancelled, true);
});

/** Runs `fn` with stdin looking like a terminal whose input is `readable`. */
async function withTerminalStdin<T>(
  readable: () => ReadableStream<Uint8Array>,
  fn: () => Promise<T>,
): Promise<T> {
  const stdin = Deno.stdin as unknown as Record<string, unknown>;
  Object.defineProperty(stdin, "isTerminal", {
    value: () => true,
    configurable: true,
  });
  Object.defineProperty(stdin, "readable", {
    get: readable,
    configurable: true,
  });
  try {
    return await fn();
  } finally {
    delete stdin.isTerminal;
    delete stdin.readable;
  }
}

Deno.test("authorizeLocal() reads pasted URLs from stdin when it is a terminal, and says so", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  const keys = keyboard();
  const { result: token, lines } = await withTerminalStdin(
    () => keys.readable,
    () =>
      captureStderr((lines) => {
        const print = console.error;
        console.error = (...args: unknown[]) => {
          print(...args);
          const url = lines.at(-1)!.match(/http:\/\/\S+authorize\S+/)![0];
          server.authorize(url).then((callback) => keys.type(`${callback}\n`));
        };
        return authorizeLocal(auth, {
          openBrowser: false,
          timeoutMs: GUARD_MS,
        });
      }),
  );
  assert.ok(token.refreshToken);
  assert.equal(lines.length, 1);
  assert.match(
    lines[0],
    /paste the address it ends on \(http:\/\/127\.0\.0\.1:\d+\/callback\?code=…\) here and press Enter/,
  );
  assert.equal(keys.cancelled, true);
});

Deno.test("authorizeLocal() with pastedUrl: false never touches stdin, even a terminal", async () => {
  await using server = await listenFake();
  await using auth = confidentialAuth(server);
  let reads = 0;
  await withTerminalStdin(
    () => {
      reads++;
      return keyboard().readable;
    },
    () =>
      authorizeLocal(auth, {
        openBrowser: false,
        timeoutMs: GUARD_MS,
        pastedUrl: false,
        onAuthorizationUrl: async (url) => void await visit(url),
      }),
  );
  assert.equal(reads, 0);
});

// --- module structure ---------------------------------------------------------

Deno.test("authorize_local.ts imports authorization_code.ts for its types only, so the two modules form no import cycle", async () => {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "info",
      "--json",
      new URL("./authorize_local.ts", import.meta.url).href,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(output.success, new TextDecoder().decode(output.stderr));
  const graph = JSON.parse(new TextDecoder().decode(output.stdout)) as {
    modules: {
      specifier: string;
      dependencies?: { specifier: string; code?: unknown; type?: unknown }[];
    }[];
  };
  const module = graph.modules.find((m) =>
    m.specifier.endsWith("/auth/authorize_local.ts")
  );
  const dependency = module?.dependencies?.find((d) =>
    d.specifier === "./authorization_code.ts"
  );
  assert.ok(dependency, "authorize_local.ts should import its provider type");
  assert.equal(dependency.code, undefined);
  assert.ok(dependency.type);
});

// --- permissions ----------------------------------------------------------------

async function runDeno(
  flags: string[],
  source: string,
  args: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const directory = await Deno.makeTempDir({ prefix: "authorize_local_" });
  try {
    const script = `${directory}/script.ts`;
    await Deno.writeTextFile(
      script,
      source
        .replaceAll("MOD_URL", import.meta.resolve("../mod.ts"))
        .replaceAll("TESTING_URL", import.meta.resolve("../testing/mod.ts")),
    );
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--no-prompt", "--no-config", ...flags, script, ...args],
      cwd: directory,
      clearEnv: true,
      env: { NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const decoder = new TextDecoder();
    return {
      code: output.code,
      stdout: decoder.decode(output.stdout),
      stderr: decoder.decode(output.stderr),
    };
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
}

Deno.test("authorizeLocal() without --allow-net names the flag to add", async () => {
  const port = freePort();
  const { stdout } = await runDeno(
    [],
    `import { AuthorizationCode, authorizeLocal } from "MOD_URL";
const auth = new AuthorizationCode({ clientId: "id", clientSecret: "secret", redirectUri: Deno.args[0] });
try {
  await authorizeLocal(auth, { openBrowser: false, onAuthorizationUrl() {} });
} catch (error) {
  console.log(error.name + ": " + error.message);
}`,
    [`http://127.0.0.1:${port}/callback`],
  );
  assert.equal(
    stdout.trim(),
    `NotCapable: authorizeLocal: cannot listen on 127.0.0.1:${port} for the login callback: run Deno with --allow-net=127.0.0.1:${port}`,
  );
});

Deno.test("authorizeLocal() without --allow-run still logs in and names the flag that opens the browser", async () => {
  const { code, stdout, stderr } = await runDeno(
    ["--allow-net=127.0.0.1"],
    `import { AuthorizationCode, authorizeLocal } from "MOD_URL";
import { FakeAccountsServer } from "TESTING_URL";
await using server = new FakeAccountsServer();
await server.listen();
await using auth = new AuthorizationCode({
  clientId: "test-client-id",
  clientSecret: "test-client-secret",
  redirectUri: "http://127.0.0.1/callback",
  accountsUrl: server.url,
});
const print = console.error;
let visited;
console.error = (message) => {
  print(message);
  const url = String(message).match(/http:\\/\\/\\S+/)?.[0];
  if (url) visited = fetch(url).then((response) => response.text());
};
const token = await authorizeLocal(auth);
await visited;
console.log(token.refreshToken ? "logged in" : "no refresh token");`,
  );
  assert.equal(code, 0, stderr);
  assert.equal(stdout.trim(), "logged in");
  const expected = Deno.build.os === "darwin"
    ? "open"
    : Deno.build.os === "windows"
    ? "cmd"
    : "xdg-open";
  assert.match(
    stderr,
    new RegExp(
      `Could not open a browser \\(run Deno with --allow-run=${expected} to let it open your browser\\)`,
    ),
  );
});
