import assert from "node:assert/strict";
import { AuthorizationCode } from "../auth/authorization_code.ts";
import { SpotifyAuthError } from "../auth/errors.ts";
import { InMemoryTokenCache } from "../auth/token.ts";
import type { FakeAccountsServer } from "../testing/fake_accounts_server.ts";
import { completeBrowserLogin, startBrowserLogin } from "./mod.ts";
import {
  CLIENT_ID,
  loginEntries,
  MemoryStorage,
  newAuth,
  newServer,
  REDIRECT_URI,
} from "./_test_helpers.ts";

/** Starts a sign-in and returns the authorize URL it navigated to. */
async function start(
  server: FakeAccountsServer,
  storage: MemoryStorage,
): Promise<string> {
  let navigatedTo: string | undefined;
  await using auth = newAuth(server);
  await startBrowserLogin(auth, {
    storage,
    assign: (url) => {
      navigatedTo = url;
    },
  });
  assert.ok(navigatedTo !== undefined, "startBrowserLogin navigated nowhere");
  return navigatedTo;
}

/** Starts a sign-in and returns the URL Spotify redirects back to. */
async function callbackUrl(
  server: FakeAccountsServer,
  storage: MemoryStorage,
  consent: "approve" | "deny" = "approve",
): Promise<string> {
  return await server.authorize(await start(server, storage), { consent });
}

function stateOf(url: string): string {
  return new URL(url).searchParams.get("state")!;
}

function isAuthError(code: string): (error: unknown) => boolean {
  return (error) => {
    assert.ok(error instanceof SpotifyAuthError, String(error));
    assert.equal(error.code, code);
    return true;
  };
}

Deno.test("startBrowserLogin() keeps verifier, redirect URI and creation time under spotify-sdk:login:<state>", async () => {
  const server = newServer();
  const storage = new MemoryStorage();
  const before = Date.now();
  const authorizeUrl = await start(server, storage);
  const state = stateOf(authorizeUrl);
  const entry = JSON.parse(storage.getItem(`spotify-sdk:login:${state}`)!);
  assert.deepEqual(Object.keys(entry).sort(), [
    "code_verifier",
    "created_at",
    "redirect_uri",
  ]);
  assert.match(entry.code_verifier, /^[A-Za-z0-9_-]{43,128}$/);
  assert.equal(entry.redirect_uri, REDIRECT_URI);
  assert.ok(entry.created_at >= before && entry.created_at <= Date.now());
});

Deno.test("startBrowserLogin() navigates to the authorize URL with an S256 challenge", async () => {
  const server = newServer();
  const params = new URL(await start(server, new MemoryStorage())).searchParams;
  assert.equal(params.get("client_id"), CLIENT_ID);
  assert.equal(params.get("redirect_uri"), REDIRECT_URI);
  assert.equal(params.get("code_challenge_method"), "S256");
  assert.match(params.get("code_challenge")!, /^[A-Za-z0-9_-]{43}$/);
  assert.match(params.get("state")!, /^[A-Za-z0-9_-]{43}$/);
});

Deno.test("startBrowserLogin() passes scope and showDialog to the authorize URL", async () => {
  const server = newServer();
  await using auth = newAuth(server);
  let navigatedTo = "";
  await startBrowserLogin(auth, {
    scope: ["user-read-email", "streaming"],
    showDialog: true,
    storage: new MemoryStorage(),
    assign: (url) => {
      navigatedTo = url;
    },
  });
  const params = new URL(navigatedTo).searchParams;
  assert.equal(params.get("scope"), "user-read-email streaming");
  assert.equal(params.get("show_dialog"), "true");
});

Deno.test("startBrowserLogin() refuses a provider without PKCE, storing nothing and navigating nowhere", async () => {
  await using auth = new AuthorizationCode({
    clientId: "id",
    clientSecret: "secret",
    redirectUri: REDIRECT_URI,
  });
  const storage = new MemoryStorage();
  let navigated = false;
  await assert.rejects(
    startBrowserLogin(auth, {
      storage,
      assign: () => {
        navigated = true;
      },
    }),
    /pkce: true/,
  );
  assert.equal(storage.items.size, 0);
  assert.equal(navigated, false);
});

Deno.test("startBrowserLogin() drops sign-in entries older than 10 minutes", async () => {
  const server = newServer();
  const storage = new MemoryStorage();
  storage.setItem(
    "spotify-sdk:login:abandoned",
    JSON.stringify({
      code_verifier: "v".repeat(43),
      redirect_uri: REDIRECT_URI,
      created_at: Date.now() - 601_000,
    }),
  );
  storage.setItem("unrelated", "kept");
  const state = stateOf(await start(server, storage));
  assert.deepEqual(loginEntries(storage), [`spotify-sdk:login:${state}`]);
  assert.equal(storage.getItem("unrelated"), "kept");
});

Deno.test("completeBrowserLogin() of a URL without code or error is undefined and leaves the address bar alone", async () => {
  const server = newServer();
  await using auth = newAuth(server);
  let replaced = false;
  const token = await completeBrowserLogin(auth, {
    url: "http://127.0.0.1:5173/?tab=home",
    storage: new MemoryStorage(),
    replaceState: () => {
      replaced = true;
    },
  });
  assert.equal(token, undefined);
  assert.equal(replaced, false);
});

Deno.test("completeBrowserLogin() exchanges the code with the stored verifier in a new page and stores the token", async () => {
  const server = newServer();
  const storage = new MemoryStorage();
  const url = await callbackUrl(server, storage);
  // A new provider, as after the navigation to Spotify and back: the
  // verifier can only come from storage.
  const cache = new InMemoryTokenCache();
  await using auth = newAuth(server, cache);
  const token = await completeBrowserLogin(auth, {
    url,
    storage,
    replaceState: () => {},
  });
  assert.ok(token !== undefined);
  assert.equal(token.scope, "user-read-private");
  assert.deepEqual(cache.get(), token);
  assert.equal(await auth.getAccessToken(), token.accessToken);
  assert.equal(server.tokenRequestCount, 1);
});

Deno.test("completeBrowserLogin() removes the callback parameters from the address bar, keeping the rest", async () => {
  const server = newServer();
  const storage = new MemoryStorage();
  const callback = new URL(await callbackUrl(server, storage));
  callback.searchParams.set("tab", "home");
  callback.hash = "#top";
  await using auth = newAuth(server);
  const replaced: string[] = [];
  await completeBrowserLogin(auth, {
    url: callback,
    storage,
    replaceState: (url) => void replaced.push(url),
  });
  assert.deepEqual(replaced, ["http://127.0.0.1:5173/callback?tab=home#top"]);
});

Deno.test("completeBrowserLogin() called twice at once for one callback makes one exchange and gives both the same token", async () => {
  const server = newServer();
  const storage = new MemoryStorage();
  const url = await callbackUrl(server, storage);
  await using first = newAuth(server);
  await using second = newAuth(server);
  const replaced: string[] = [];
  const options = {
    url,
    storage,
    replaceState: (url: string) => void replaced.push(url),
  };
  const [a, b] = await Promise.all([
    completeBrowserLogin(first, options),
    completeBrowserLogin(second, options),
  ]);
  assert.ok(a !== undefined);
  assert.deepEqual(a, b);
  assert.equal(server.tokenRequestCount, 1);
  assert.equal(replaced.length, 1);
});

Deno.test("completeBrowserLogin() called at once with two providers signs both in, each in its own cache", async () => {
  const server = newServer();
  const storage = new MemoryStorage();
  const url = await callbackUrl(server, storage);
  const firstCache = new InMemoryTokenCache();
  const secondCache = new InMemoryTokenCache();
  await using first = newAuth(server, firstCache);
  await using second = newAuth(server, secondCache);
  const options = { url, storage, replaceState: () => {} };
  const [a, b] = await Promise.all([
    completeBrowserLogin(first, options),
    completeBrowserLogin(second, options),
  ]);
  assert.deepEqual(a, b);
  assert.deepEqual(firstCache.get(), a);
  assert.deepEqual(secondCache.get(), a);
  assert.equal(await first.getAccessToken(), a!.accessToken);
  assert.equal(await second.getAccessToken(), a!.accessToken);
  assert.equal(server.tokenRequestCount, 1);
});

Deno.test("completeBrowserLogin() of a callback already used is state_mismatch, without a request", async () => {
  const server = newServer();
  const storage = new MemoryStorage();
  const url = await callbackUrl(server, storage);
  await using auth = newAuth(server);
  const options = { url, storage, replaceState: () => {} };
  await completeBrowserLogin(auth, options);
  await assert.rejects(
    completeBrowserLogin(auth, options),
    isAuthError("state_mismatch"),
  );
  assert.equal(server.tokenRequestCount, 1);
});

Deno.test("completeBrowserLogin() of an unknown state is state_mismatch, leaves pending sign-ins alone and cleans the address bar", async () => {
  const server = newServer();
  const storage = new MemoryStorage();
  const pending = [
    `spotify-sdk:login:${stateOf(await start(server, storage))}`,
  ];
  await using auth = newAuth(server);
  const replaced: string[] = [];
  await assert.rejects(
    completeBrowserLogin(auth, {
      url: "http://127.0.0.1:5173/callback?code=forged&state=forged",
      storage,
      replaceState: (url) => void replaced.push(url),
    }),
    isAuthError("state_mismatch"),
  );
  assert.deepEqual(loginEntries(storage), pending);
  assert.deepEqual(replaced, ["http://127.0.0.1:5173/callback"]);
  assert.equal(server.tokenRequestCount, 0);
});

Deno.test("completeBrowserLogin() of a callback without state is state_mismatch", async () => {
  const server = newServer();
  await using auth = newAuth(server);
  await assert.rejects(
    completeBrowserLogin(auth, {
      url: "http://127.0.0.1:5173/callback?code=abc",
      storage: new MemoryStorage(),
      replaceState: () => {},
    }),
    isAuthError("state_mismatch"),
  );
});

Deno.test("completeBrowserLogin() of a sign-in older than 10 minutes is state_mismatch and removes its entry, without a request", async () => {
  const server = newServer();
  const storage = new MemoryStorage();
  const url = await callbackUrl(server, storage);
  const key = `spotify-sdk:login:${stateOf(url)}`;
  const entry = JSON.parse(storage.getItem(key)!);
  storage.setItem(
    key,
    JSON.stringify({ ...entry, created_at: Date.now() - 600_001 }),
  );
  await using auth = newAuth(server);
  await assert.rejects(
    completeBrowserLogin(auth, { url, storage, replaceState: () => {} }),
    isAuthError("state_mismatch"),
  );
  assert.equal(storage.getItem(key), null);
  assert.equal(server.tokenRequestCount, 0);
});

Deno.test("completeBrowserLogin() of a corrupt sign-in entry is state_mismatch and removes it", async () => {
  const server = newServer();
  const storage = new MemoryStorage();
  storage.setItem("spotify-sdk:login:s1", '{"code_verifier": 1}');
  await using auth = newAuth(server);
  await assert.rejects(
    completeBrowserLogin(auth, {
      url: "http://127.0.0.1:5173/callback?code=abc&state=s1",
      storage,
      replaceState: () => {},
    }),
    isAuthError("state_mismatch"),
  );
  assert.equal(storage.getItem("spotify-sdk:login:s1"), null);
});

Deno.test("completeBrowserLogin() of a refused consent is access_denied, uses up the entry and cleans the address bar", async () => {
  const server = newServer();
  const storage = new MemoryStorage();
  const url = await callbackUrl(server, storage, "deny");
  await using auth = newAuth(server);
  const replaced: string[] = [];
  await assert.rejects(
    completeBrowserLogin(auth, {
      url,
      storage,
      replaceState: (url) => void replaced.push(url),
    }),
    isAuthError("access_denied"),
  );
  assert.deepEqual(loginEntries(storage), []);
  assert.deepEqual(replaced, ["http://127.0.0.1:5173/callback"]);
  assert.equal(server.tokenRequestCount, 0);
});

Deno.test("completeBrowserLogin() believes no error from a callback with a forged state", async () => {
  const server = newServer();
  await using auth = newAuth(server);
  await assert.rejects(
    completeBrowserLogin(auth, {
      url:
        "http://127.0.0.1:5173/callback?error=access_denied&state=forged&error_description=x",
      storage: new MemoryStorage(),
      replaceState: () => {},
    }),
    isAuthError("state_mismatch"),
  );
});

Deno.test("completeBrowserLogin() rejects with the exchange's error, and the entry stays used", async () => {
  const server = newServer();
  const storage = new MemoryStorage();
  const url = await callbackUrl(server, storage);
  server.failNext({
    status: 400,
    body: { error: "invalid_grant", error_description: "Invalid code" },
  });
  await using auth = newAuth(server);
  const options = { url, storage, replaceState: () => {} };
  await assert.rejects(
    completeBrowserLogin(auth, options),
    isAuthError("invalid_grant"),
  );
  await assert.rejects(
    completeBrowserLogin(auth, options),
    isAuthError("state_mismatch"),
  );
  assert.equal(server.tokenRequestCount, 1);
});

Deno.test("completeBrowserLogin() rejects a url that is not a URL with a TypeError", async () => {
  const server = newServer();
  await using auth = newAuth(server);
  await assert.rejects(
    completeBrowserLogin(auth, {
      url: "/callback?code=a&state=b",
      storage: new MemoryStorage(),
      replaceState: () => {},
    }),
    TypeError,
  );
});

Deno.test("completeBrowserLogin() without url outside a browser asks for one", async () => {
  const server = newServer();
  await using auth = newAuth(server);
  await assert.rejects(
    completeBrowserLogin(auth, { storage: new MemoryStorage() }),
    /pass \{ url \}/,
  );
});
