// Spotify's 6-month sign-ins: authorizedAt, a dead refresh token handled
// once, re-authorization on the same instance, authorizationExpiresAt() and
// signOut().

import assert from "node:assert/strict";
import {
  AuthorizationCode,
  type AuthorizationCodeOptions,
  FileTokenCache,
  InMemoryTokenCache,
  KvTokenCache,
  SpotifyAuthError,
  type TokenCache,
  type TokenInfo,
} from "../mod.ts";
import {
  FakeAccountsServer,
  type FakeAccountsServerOptions,
  FakeClock,
  FakeTokenCache,
} from "../testing/mod.ts";

const CLIENT_ID = "test-client-id";
const CLIENT_SECRET = "test-client-secret";
const REDIRECT_URI = "http://127.0.0.1:8080/callback";
const START_MS = 1_700_000_000_000;
const SIX_MONTHS_S = 15_552_000;

function setup(
  options: AuthorizationCodeOptions = {},
  serverOptions: FakeAccountsServerOptions = {},
) {
  const clock = new FakeClock(START_MS);
  const server = new FakeAccountsServer({ clock, ...serverOptions });
  const auth = provider(server, clock, options);
  return { clock, server, auth };
}

function provider(
  server: FakeAccountsServer,
  clock: FakeClock,
  options: AuthorizationCodeOptions = {},
): AuthorizationCode {
  return new AuthorizationCode({
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
    scope: "user-read-private",
    fetch: server.fetch,
    clock,
    retryDelayMs: 0,
    ...options,
  });
}

async function signIn(
  auth: AuthorizationCode,
  server: FakeAccountsServer,
): Promise<TokenInfo> {
  const { url, state } = await auth.createAuthorizationRequest();
  const code = auth.parseResponseUrl(await server.authorize(url), {
    expectedState: state,
  });
  return await auth.exchangeCode(code);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected a rejection");
}

/** A FakeTokenCache shared like a file or KV cache: with a (local) lock. */
class SharedFakeCache extends FakeTokenCache {
  #tail: Promise<unknown> = Promise.resolve();
  locks = 0;

  lock<T>(fn: () => Promise<T>): Promise<T> {
    this.locks++;
    const run = this.#tail.then(fn, fn);
    this.#tail = run.catch(() => {});
    return run;
  }
}

Deno.test("AuthorizationCode.exchangeCode() sets authorizedAt from the provider clock", async () => {
  const { clock, server, auth } = setup();
  await using _ = auth;
  clock.tick(1500);
  const token = await signIn(auth, server);
  assert.equal(token.authorizedAt, (START_MS + 1500) / 1000);
});

Deno.test("AuthorizationCode refreshes carry authorizedAt over unchanged", async () => {
  const cache = new FakeTokenCache();
  const { clock, server, auth } = setup({ tokenCache: cache });
  await using _ = auth;
  const first = await signIn(auth, server);
  clock.tick(3600_000);
  await auth.getAccessToken();
  assert.equal(cache.sets, 2);
  assert.notEqual(cache.token!.accessToken, first.accessToken);
  assert.equal(cache.token!.authorizedAt, first.authorizedAt);
});

Deno.test("AuthorizationCode bootstraps authorizedAt from the options", async () => {
  const { clock, server } = setup();
  const issued = server.issueTokens({ scope: "user-read-private" });
  const cache = new FakeTokenCache();
  await using auth = provider(server, clock, {
    refreshToken: issued.refreshToken,
    authorizedAt: 1_690_000_000,
    tokenCache: cache,
  });
  assert.equal(
    await auth.authorizationExpiresAt(),
    1_690_000_000 + SIX_MONTHS_S,
  );
  await auth.getAccessToken();
  assert.equal(cache.token!.authorizedAt, 1_690_000_000);
});

Deno.test("AuthorizationCode handles a dead refresh token once: no retry, deleted, forgotten, reported", async () => {
  const cache = new FakeTokenCache();
  const lost: SpotifyAuthError[] = [];
  const { clock, server, auth } = setup({
    tokenCache: cache,
    maxRetries: 3,
    onAuthorizationLost: (error) => {
      lost.push(error);
    },
  });
  await using _ = auth;
  const token = await signIn(auth, server);
  server.revokeRefreshToken(token.refreshToken!);
  clock.tick(3600_000);
  const before = server.tokenRequestCount;
  const error = await rejection(auth.getAccessToken());
  assert.equal(server.tokenRequestCount, before + 1, "no retry");
  assert.ok(error instanceof SpotifyAuthError);
  assert.equal(error.code, "authorization_required");
  assert.equal(error.status, 400);
  assert.match(error.message, /sign in again/);
  assert.ok(error.cause instanceof SpotifyAuthError);
  assert.equal(error.cause.code, "invalid_grant");
  assert.equal(error.cause.description, "Refresh token revoked");
  assert.equal(cache.token, undefined);
  assert.equal(cache.deletes, 1);
  assert.deepEqual(lost, [error]);
  assert.equal(await auth.authorizationExpiresAt(), undefined);
});

Deno.test("AuthorizationCode makes no request after its refresh token died", async () => {
  const lost: unknown[] = [];
  const { clock, server, auth } = setup({
    onAuthorizationLost: (error) => {
      lost.push(error);
    },
  });
  await using _ = auth;
  const token = await signIn(auth, server);
  server.revokeRefreshToken(token.refreshToken!);
  clock.tick(3600_000);
  await rejection(auth.getAccessToken());
  const before = server.tokenRequestCount;
  for (let i = 0; i < 3; i++) {
    const error = await rejection(auth.getAccessToken());
    assert.ok(error instanceof SpotifyAuthError);
    assert.equal(error.code, "authorization_required");
  }
  assert.equal(server.tokenRequestCount, before);
  assert.equal(lost.length, 1, "onAuthorizationLost fires once");
});

Deno.test("AuthorizationCode never sends a dead refresh token twice to a cache without delete()", async () => {
  const store = new FakeTokenCache();
  const cache: TokenCache = {
    get: () => store.get(),
    set: (token) => store.set(token),
  };
  const { clock, server, auth } = setup({ tokenCache: cache });
  await using _ = auth;
  const token = await signIn(auth, server);
  server.revokeRefreshToken(token.refreshToken!);
  clock.tick(3600_000);
  await rejection(auth.getAccessToken());
  const after = server.tokenRequestCount;
  assert.equal(store.token?.refreshToken, token.refreshToken, "kept");
  const error = await rejection(auth.getAccessToken());
  assert.ok(error instanceof SpotifyAuthError);
  assert.equal(error.code, "authorization_required");
  assert.equal(server.tokenRequestCount, after);
});

Deno.test("AuthorizationCode ends a refresh token past its 6 months with authorization_required", async () => {
  const { clock, server, auth } = setup({}, { refreshTokenTtlSeconds: 7200 });
  await using _ = auth;
  await signIn(auth, server);
  clock.tick(3600_000);
  await auth.getAccessToken(); // inside the sign-in's lifetime
  clock.tick(3600_000);
  const error = await rejection(auth.getAccessToken());
  assert.ok(error instanceof SpotifyAuthError);
  assert.equal(error.code, "authorization_required");
  assert.ok(error.cause instanceof SpotifyAuthError);
  assert.equal(error.cause.description, "Refresh token expired");
});

Deno.test("AuthorizationCode signs in again on the same instance after authorization_required", async () => {
  const cache = new FakeTokenCache();
  const { clock, server, auth } = setup({ tokenCache: cache });
  await using _ = auth;
  const first = await signIn(auth, server);
  server.revokeRefreshToken(first.refreshToken!);
  clock.tick(3600_000);
  await rejection(auth.getAccessToken());
  clock.tick(1000);
  const second = await signIn(auth, server);
  assert.equal(await auth.getAccessToken(), second.accessToken);
  assert.equal(second.authorizedAt, clock.now() / 1000);
  clock.tick(3600_000);
  const refreshed = await auth.getAccessToken();
  assert.notEqual(refreshed, second.accessToken);
  assert.equal(cache.token!.authorizedAt, second.authorizedAt);
});

Deno.test("AuthorizationCode uses a new sign-in found in the cache instead of reporting the dead token", async () => {
  const { clock, server, auth } = setup();
  await using _ = auth;
  const dead = server.issueTokens({ scope: "user-read-private" });
  server.revokeRefreshToken(dead.refreshToken!);
  const fresh = server.issueTokens({ scope: "user-read-private" });
  const staleCopy = { ...dead, expiresAt: START_MS / 1000 - 1 };
  let gets = 0;
  const lost: unknown[] = [];
  let deletes = 0;
  const cache: TokenCache = {
    // The first read is the stale token; by the time the refresh failed,
    // another process had stored a new sign-in.
    get: () => (gets++ === 0 ? staleCopy : fresh),
    set: () => {},
    delete: () => {
      deletes++;
    },
  };
  await using other = provider(server, clock, {
    tokenCache: cache,
    onAuthorizationLost: (error) => {
      lost.push(error);
    },
  });
  assert.equal(await other.getAccessToken(), fresh.accessToken);
  assert.equal(deletes, 0);
  assert.deepEqual(lost, []);
});

Deno.test("AuthorizationCode sharing a locked cache with a dead token rejects without a request", async () => {
  const { clock, server } = setup();
  const cache = new SharedFakeCache();
  await using a = provider(server, clock, { tokenCache: cache });
  await using b = provider(server, clock, { tokenCache: cache });
  const token = await signIn(a, server);
  await b.getAccessToken(); // b now remembers the token in memory
  server.revokeRefreshToken(token.refreshToken!);
  clock.tick(3600_000);
  await rejection(a.getAccessToken());
  const after = server.tokenRequestCount;
  const error = await rejection(b.getAccessToken());
  assert.ok(error instanceof SpotifyAuthError);
  assert.equal(error.code, "authorization_required");
  assert.equal(server.tokenRequestCount, after, "b sent nothing");
  // One process signs the user in again: every process works again.
  await signIn(a, server);
  assert.ok(await b.getAccessToken());
  assert.equal(await b.getAccessToken(), await a.getAccessToken());
});

Deno.test("AuthorizationCode processes sharing a KvTokenCache send a dead refresh token once", async () => {
  using kv = await Deno.openKv(":memory:");
  const { clock, server } = setup();
  const lost: number[] = [];
  const providers = Array.from(
    { length: 4 },
    (_, i) =>
      provider(server, clock, {
        tokenCache: new KvTokenCache({ kv, key: ["user-1"], clock }),
        onAuthorizationLost: () => {
          lost.push(i);
        },
      }),
  );
  try {
    const token = await signIn(providers[0], server);
    server.revokeRefreshToken(token.refreshToken!);
    clock.tick(3600_000);
    const before = server.tokenRequestCount;
    const errors = await Promise.all(
      providers.map((p) => rejection(p.getAccessToken())),
    );
    assert.equal(server.tokenRequestCount, before + 1);
    for (const error of errors) {
      assert.ok(error instanceof SpotifyAuthError);
      assert.equal(error.code, "authorization_required");
    }
    assert.equal(lost.length, 1);
    assert.equal((await kv.get(["user-1"])).value, null);
    await signIn(providers[2], server);
    for (const p of providers) assert.ok(await p.getAccessToken());
  } finally {
    await Promise.all(providers.map((p) => p.close()));
  }
});

Deno.test("AuthorizationCode ignores errors thrown by onAuthorizationLost", async () => {
  for (
    const onAuthorizationLost of [
      () => {
        throw new Error("callback broke");
      },
      () => Promise.reject(new Error("callback broke")),
    ]
  ) {
    const { clock, server, auth } = setup({ onAuthorizationLost });
    await using _ = auth;
    const token = await signIn(auth, server);
    server.revokeRefreshToken(token.refreshToken!);
    clock.tick(3600_000);
    const error = await rejection(auth.getAccessToken());
    assert.ok(error instanceof SpotifyAuthError);
    assert.equal(error.code, "authorization_required");
  }
});

Deno.test("AuthorizationCode leaves the cache alone when a refresh fails for any other reason", async () => {
  const faults = [
    { status: 503 },
    { status: 429, headers: { "retry-after": "0" } },
    {
      status: 401,
      body: { error: "invalid_client", error_description: "Invalid client" },
    },
    "malformed",
    "network",
  ] as const;
  for (const fault of faults) {
    const cache = new FakeTokenCache();
    const lost: unknown[] = [];
    const { clock, server, auth } = setup({
      tokenCache: cache,
      maxRetries: 0,
      onAuthorizationLost: (error) => {
        lost.push(error);
      },
    });
    await using _ = auth;
    const token = await signIn(auth, server);
    clock.tick(3600_000);
    server.failNext(fault);
    const error = await rejection(auth.getAccessToken());
    assert.ok(error instanceof SpotifyAuthError);
    assert.notEqual(error.code, "authorization_required", String(fault));
    assert.equal(cache.token, token);
    assert.equal(cache.deletes, 0);
    assert.deepEqual(lost, []);
    assert.ok(await auth.getAccessToken(), "recovers afterwards");
  }
});

Deno.test("AuthorizationCode.exchangeCode() still rejects a bad code with invalid_grant", async () => {
  const cache = new FakeTokenCache();
  const { auth } = setup({ tokenCache: cache });
  await using _ = auth;
  const error = await rejection(auth.exchangeCode("not-a-code"));
  assert.ok(error instanceof SpotifyAuthError);
  assert.equal(error.code, "invalid_grant");
  assert.equal(cache.deletes, 0);
});

Deno.test("AuthorizationCode.authorizationExpiresAt() is the sign-in plus the lifetime", async () => {
  const { clock, server, auth } = setup({
    refreshTokenLifetimeSeconds: 86_400,
  });
  await using _ = auth;
  assert.equal(await auth.authorizationExpiresAt(), undefined, "no token");
  const token = await signIn(auth, server);
  assert.equal(
    await auth.authorizationExpiresAt(),
    token.authorizedAt! + 86_400,
  );
  clock.tick(3600_000);
  await auth.getAccessToken();
  assert.equal(
    await auth.authorizationExpiresAt(),
    token.authorizedAt! + 86_400,
  );
});

Deno.test("AuthorizationCode.authorizationExpiresAt() reads the cache and makes no request", async () => {
  const { clock, server } = setup();
  const cache = new InMemoryTokenCache({
    accessToken: "cached",
    expiresAt: START_MS / 1000 + 3600,
    refreshToken: "r",
    authorizedAt: 1_600_000_000,
  });
  await using auth = provider(server, clock, { tokenCache: cache });
  assert.equal(
    await auth.authorizationExpiresAt(),
    1_600_000_000 + SIX_MONTHS_S,
  );
  assert.equal(server.tokenRequestCount, 0);
  cache.set({ accessToken: "python", expiresAt: 0, refreshToken: "r" });
  assert.equal(await auth.authorizationExpiresAt(), undefined, "unknown");
});

Deno.test("AuthorizationCode.signOut() forgets and deletes the token; later calls make no request", async () => {
  const cache = new FakeTokenCache();
  const { server, auth } = setup({ tokenCache: cache });
  await using _ = auth;
  await signIn(auth, server);
  await auth.signOut();
  assert.equal(cache.token, undefined);
  assert.equal(cache.deletes, 1);
  const before = server.tokenRequestCount;
  const error = await rejection(auth.getAccessToken());
  assert.ok(error instanceof SpotifyAuthError);
  assert.equal(error.code, "authorization_required");
  assert.match(error.message, /signed out/);
  assert.equal(server.tokenRequestCount, before);
  await signIn(auth, server);
  assert.ok(await auth.getAccessToken(), "signs in again");
});

Deno.test("AuthorizationCode.signOut() also forgets a bootstrap refresh token", async () => {
  const { clock, server } = setup();
  const issued = server.issueTokens({ scope: "user-read-private" });
  await using auth = provider(server, clock, {
    refreshToken: issued.refreshToken,
  });
  await auth.signOut();
  await rejection(auth.getAccessToken());
  assert.equal(server.tokenRequestCount, 0);
});

Deno.test("AuthorizationCode.signOut() needs a cache with delete()", async () => {
  class PlainCache implements TokenCache {
    get() {
      return undefined;
    }
    set() {}
  }
  const { auth } = setup({ tokenCache: new PlainCache() });
  await using _ = auth;
  await assert.rejects(auth.signOut(), (error: unknown) => {
    assert.ok(error instanceof TypeError);
    assert.match(error.message, /PlainCache/);
    assert.match(error.message, /delete\(\)/);
    return true;
  });
});

Deno.test("AuthorizationCode.signOut() aborts a refresh in flight first", async () => {
  const cache = new FakeTokenCache();
  const { clock, server, auth } = setup({ tokenCache: cache });
  await using _ = auth;
  await signIn(auth, server);
  clock.tick(3600_000);
  server.failNext({ delayMs: 60_000 });
  const pending = rejection(auth.getAccessToken());
  await Promise.resolve();
  await auth.signOut();
  const error = await pending;
  assert.ok(error instanceof SpotifyAuthError);
  assert.equal(error.code, "authorization_required");
  assert.equal(cache.token, undefined);
  assert.equal(cache.sets, 1, "the aborted refresh stored nothing");
});

Deno.test("AuthorizationCode closes within a second while a custom cache lock ignores the signal", async () => {
  const { clock, server } = setup();
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  const store = new FakeTokenCache();
  const cache: TokenCache = {
    get: () => store.get(),
    set: (token) => store.set(token),
    lock: async <T>(fn: () => Promise<T>): Promise<T> => {
      await held;
      return fn();
    },
  };
  const auth = provider(server, clock, { tokenCache: cache });
  const pending = rejection(auth.getAccessToken());
  const closing = auth.close();
  const error = await pending;
  assert.ok(error instanceof TypeError, "the caller hears of the close");
  assert.match(error.message, /is closed/);
  release();
  await closing;
});

Deno.test("InMemoryTokenCache.delete() forgets the token, and a missing one is fine", () => {
  const cache = new InMemoryTokenCache();
  cache.delete();
  cache.set({ accessToken: "a", expiresAt: 1, authorizedAt: 0.5 });
  assert.equal(cache.get()?.authorizedAt, 0.5);
  cache.delete();
  assert.equal(cache.get(), undefined);
});

Deno.test("AuthorizationCode's authorization_required names the token file and why it was unusable", async () => {
  const dir = await Deno.makeTempDir({ prefix: "authorization_required_" });
  try {
    const path = `${dir}/token.json`;
    const { clock, server } = setup();
    const cases: [string | undefined, RegExp][] = [
      [undefined, /no token file at ".*token\.json" yet/],
      ["{truncated", /exists but could not be used \(.*JSON/],
      [
        JSON.stringify({
          access_token: "a",
          expires_at: "1999999999",
          refresh_token: "r",
        }),
        /exists but could not be used \(.*expires_at.* not a number/,
      ],
    ];
    for (const [content, expected] of cases) {
      if (content !== undefined) await Deno.writeTextFile(path, content);
      await using auth = provider(server, clock, {
        tokenCache: new FileTokenCache({ path }),
      });
      const error = await rejection(auth.getAccessToken());
      assert.ok(error instanceof SpotifyAuthError);
      assert.equal(error.code, "authorization_required");
      assert.match(error.message, expected);
      assert.ok(!error.message.includes("1999999999"), "no stored value");
    }
    assert.equal(server.tokenRequestCount, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("AuthorizationCode.getAccessToken({ forceRefresh }) refreshes even with nothing in memory", async () => {
  const { clock, server } = setup();
  const seeded = server.issueTokens({ scope: "user-read-private" });
  const cache = new InMemoryTokenCache(seeded);
  await using auth = provider(server, clock, { tokenCache: cache });
  const forced = await auth.getAccessToken({ forceRefresh: true });
  assert.notEqual(forced, seeded.accessToken, "the cached token was rejected");
  assert.equal(server.tokenRequestCount, 1);
  assert.equal(cache.get()?.accessToken, forced);
});

Deno.test("AuthorizationCode option errors show the value's type, never a refresh token", () => {
  const base = {
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    redirectUri: REDIRECT_URI,
  };
  assert.throws(
    () => new AuthorizationCode({ ...base, scope: 5 as unknown as string }),
    (error: unknown) =>
      error instanceof TypeError && /"scope".*the number 5/.test(error.message),
  );
  assert.throws(
    () => new AuthorizationCode({ ...base, refreshToken: "" }),
    (error: unknown) =>
      error instanceof TypeError &&
      /"refreshToken".*an empty string/.test(error.message),
  );
  assert.throws(
    () =>
      new AuthorizationCode({
        ...base,
        refreshTokenLifetimeSeconds: "15552000" as unknown as number,
      }),
    (error: unknown) =>
      error instanceof TypeError &&
      /"refreshTokenLifetimeSeconds".*the string "15552000"/.test(
        error.message,
      ),
  );
});
