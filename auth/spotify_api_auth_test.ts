import assert from "node:assert/strict";
// The official SDK, in tests only: the module itself has no dependencies.
// deno-lint-ignore no-import-prefix
import { SpotifyApi } from "npm:@spotify/web-api-ts-sdk@1.2.0";
import {
  AuthorizationCode,
  type AuthProvider,
  ClientCredentials,
  SpotifyAuthError,
  type TokenCache,
  type TokenInfo,
  toSpotifyApiAuth,
} from "../mod.ts";
import {
  FakeAccountsServer,
  FakeAuthProvider,
  FakeClock,
  FakeTokenCache,
} from "../testing/mod.ts";

const REDIRECT_URI = "http://127.0.0.1:8080/callback";

/** A signed-in user: the fake, its clock and our provider over a cache. */
function signedIn(
  options: { refreshTokenTtlSeconds?: number; tokenCache?: TokenCache } = {},
) {
  const clock = new FakeClock();
  const server = new FakeAccountsServer({
    clock,
    refreshTokenTtlSeconds: options.refreshTokenTtlSeconds,
  });
  const seeded = server.issueTokens({ scope: "user-read-private" });
  const auth = new AuthorizationCode({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    redirectUri: REDIRECT_URI,
    refreshToken: seeded.refreshToken,
    tokenCache: options.tokenCache,
    fetch: server.fetch,
    clock,
  });
  return { clock, server, auth, seeded };
}

function authorizationRequired(): SpotifyAuthError {
  return new SpotifyAuthError(
    "authorization_required",
    "The user's authorization expired or was revoked: sign in again",
    { status: 400 },
  );
}

function isAuthorizationRequired(error: unknown): boolean {
  return error instanceof SpotifyAuthError &&
    error.code === "authorization_required";
}

/** Resolves when told to: lets a test hold a sign-out open. */
function deferred() {
  let resolve!: () => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

Deno.test("toSpotifyApiAuth() hands the SDK our token with its expiry by the provider's clock", async () => {
  const { clock, auth } = signedIn();
  await using _ = auth;
  const strategy = toSpotifyApiAuth(auth);
  const first = await strategy.getOrCreateAccessToken();
  const expires = clock.now() + 3_600_000;
  assert.deepEqual(first, {
    access_token: await auth.getAccessToken(),
    token_type: "Bearer",
    expires_in: 3600,
    refresh_token: "",
    expires,
  });
  clock.tick(1_500);
  const later = await strategy.getOrCreateAccessToken();
  assert.equal(later.expires_in, 3598, "whole seconds left, rounded down");
  assert.equal(later.expires, expires);
});

Deno.test("toSpotifyApiAuth() reports 0 seconds left when less than one is", async () => {
  const clock = new FakeClock();
  const server = new FakeAccountsServer({ clock });
  await using auth = new ClientCredentials({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    fetch: server.fetch,
    skewSeconds: 0,
    clock,
  });
  const strategy = toSpotifyApiAuth(auth);
  const { access_token } = await strategy.getOrCreateAccessToken();
  clock.tick(3_599_500);
  const token = await strategy.getOrCreateAccessToken();
  assert.equal(token.access_token, access_token, "still the same token");
  assert.equal(token.expires_in, 0);
});

Deno.test("toSpotifyApiAuth() never hands out the refresh token", async () => {
  const { auth, seeded } = signedIn();
  await using _ = auth;
  const token = await toSpotifyApiAuth(auth).getOrCreateAccessToken();
  assert.equal(token.refresh_token, "");
  assert.ok(!JSON.stringify(token).includes(seeded.refreshToken!));
});

Deno.test("toSpotifyApiAuth() gives another provider's token with expires_in 0 and no expires", async () => {
  const token = await toSpotifyApiAuth(new FakeAuthProvider("theirs"))
    .getOrCreateAccessToken();
  assert.deepEqual(token, {
    access_token: "theirs",
    token_type: "Bearer",
    expires_in: 0,
    refresh_token: "",
  });
  assert.ok(!("expires" in token));
});

Deno.test("toSpotifyApiAuth().getAccessToken() resolves to null when the user must sign in", async () => {
  const provider: AuthProvider = {
    getAccessToken: () => Promise.reject(authorizationRequired()),
  };
  assert.equal(await toSpotifyApiAuth(provider).getAccessToken(), null);
});

Deno.test("toSpotifyApiAuth().getOrCreateAccessToken() rejects with authorization_required when the user must sign in", async () => {
  const provider: AuthProvider = {
    getAccessToken: () => Promise.reject(authorizationRequired()),
  };
  await assert.rejects(
    toSpotifyApiAuth(provider).getOrCreateAccessToken(),
    isAuthorizationRequired,
  );
});

Deno.test("toSpotifyApiAuth().getAccessToken() passes on errors other than authorization_required", async () => {
  const outage = new SpotifyAuthError("http_error", "Spotify answered 503", {
    status: 503,
  });
  const provider: AuthProvider = {
    getAccessToken: () => Promise.reject(outage),
  };
  await assert.rejects(
    toSpotifyApiAuth(provider).getAccessToken(),
    (error) => error === outage,
  );
});

Deno.test("toSpotifyApiAuth().removeAccessToken() signs the user out of our cache", async () => {
  const tokenCache = new FakeTokenCache();
  const { auth, server } = signedIn({ tokenCache });
  await using _ = auth;
  const strategy = toSpotifyApiAuth(auth);
  await strategy.getOrCreateAccessToken();
  const requests = server.tokenRequestCount;
  strategy.removeAccessToken();
  assert.equal(await strategy.getAccessToken(), null);
  await assert.rejects(
    strategy.getOrCreateAccessToken(),
    isAuthorizationRequired,
  );
  assert.equal(tokenCache.deletes, 1);
  assert.equal(await tokenCache.get(), undefined);
  assert.equal(server.tokenRequestCount, requests, "no request after it");
});

Deno.test("toSpotifyApiAuth().removeAccessToken() makes later calls wait for the sign-out", async () => {
  const signOut = deferred();
  let signedOut = false;
  const provider = {
    getAccessToken: () =>
      signedOut
        ? Promise.reject(authorizationRequired())
        : Promise.resolve("before"),
    signOut: async () => {
      await signOut.promise;
      signedOut = true;
    },
  };
  const strategy = toSpotifyApiAuth(provider);
  assert.equal(
    (await strategy.getOrCreateAccessToken()).access_token,
    "before",
  );
  strategy.removeAccessToken();
  let settled = false;
  const after = strategy.getAccessToken().finally(() => settled = true);
  await Promise.resolve();
  await Promise.resolve();
  assert.equal(settled, false, "waits for the sign-out");
  signOut.resolve();
  assert.equal(await after, null);
});

Deno.test("toSpotifyApiAuth().removeAccessToken() swallows a failed sign-out and still never returns the signed-out token", async () => {
  const failure = new TypeError("the cache cannot delete");
  const provider = {
    getAccessToken: () => Promise.resolve("stuck"),
    signOut: () => Promise.reject(failure),
  };
  const strategy = toSpotifyApiAuth(provider);
  await strategy.getOrCreateAccessToken();
  strategy.removeAccessToken();
  assert.equal(await strategy.getAccessToken(), null);
  await assert.rejects(strategy.getOrCreateAccessToken(), (error) => {
    assert.ok(isAuthorizationRequired(error));
    assert.equal((error as Error).cause, failure);
    assert.ok(!(error as Error).message.includes("stuck"));
    return true;
  });
});

Deno.test("toSpotifyApiAuth().removeAccessToken() keeps the signed-out token from the SDK when our cache cannot delete", async () => {
  const stored: { token?: TokenInfo } = {};
  const tokenCache: TokenCache = {
    get: () => stored.token,
    set: (token) => {
      stored.token = token;
    },
  };
  const { auth } = signedIn({ tokenCache });
  await using _ = auth;
  const strategy = toSpotifyApiAuth(auth);
  await strategy.getOrCreateAccessToken();
  strategy.removeAccessToken();
  await assert.rejects(strategy.getOrCreateAccessToken(), (error) => {
    assert.ok(isAuthorizationRequired(error));
    assert.ok((error as Error).cause instanceof TypeError);
    return true;
  });
});

Deno.test("toSpotifyApiAuth().removeAccessToken() as the first call still hides the token a cache without delete() keeps", async () => {
  const stored: { token?: TokenInfo } = {};
  const tokenCache: TokenCache = {
    get: () => stored.token,
    set: (token) => {
      stored.token = token;
    },
  };
  const { auth } = signedIn({ tokenCache });
  await using _ = auth;
  const held = await auth.getAccessToken();
  const strategy = toSpotifyApiAuth(auth);
  strategy.removeAccessToken();
  assert.equal(await strategy.getAccessToken(), null);
  assert.equal(await auth.getAccessToken(), held, "the provider still has it");
});

Deno.test("toSpotifyApiAuth() asks the provider's own getAccessToken(), overrides included", async () => {
  const { auth } = signedIn();
  await using _ = auth;
  let calls = 0;
  const getAccessToken = auth.getAccessToken.bind(auth);
  auth.getAccessToken = (options) => {
    calls++;
    return getAccessToken(options);
  };
  const strategy = toSpotifyApiAuth(auth);
  const token = await strategy.getOrCreateAccessToken();
  assert.equal(calls, 1);
  assert.ok(token.expires !== undefined, "still ours: the expiry is known");
  class Prefixed extends ClientCredentials {
    override async getAccessToken(): Promise<string> {
      return `prefixed-${await super.getAccessToken()}`;
    }
  }
  const server = new FakeAccountsServer();
  await using prefixed = new Prefixed({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    fetch: server.fetch,
  });
  const changed = await toSpotifyApiAuth(prefixed).getOrCreateAccessToken();
  assert.match(changed.access_token, /^prefixed-/);
  assert.equal(
    changed.expires,
    undefined,
    "a changed token has no known expiry",
  );
  assert.equal(changed.expires_in, 0);
});

Deno.test("toSpotifyApiAuth().removeAccessToken() does nothing for a provider without signOut()", async () => {
  const strategy = toSpotifyApiAuth(new FakeAuthProvider("app-token"));
  await strategy.getOrCreateAccessToken();
  strategy.removeAccessToken();
  assert.equal((await strategy.getAccessToken())?.access_token, "app-token");
});

Deno.test("toSpotifyApiAuth() lets a user who signs in again after removeAccessToken() get tokens", async () => {
  const { auth, server } = signedIn();
  await using _ = auth;
  const strategy = toSpotifyApiAuth(auth);
  const before = await strategy.getOrCreateAccessToken();
  strategy.removeAccessToken();
  assert.equal(await strategy.getAccessToken(), null);
  const url = await auth.getAuthorizationUrl();
  await auth.exchangeCode(auth.parseResponseUrl(await server.authorize(url)));
  const after = await strategy.getOrCreateAccessToken();
  assert.notEqual(after.access_token, before.access_token);
});

Deno.test("toSpotifyApiAuth().setConfiguration() is accepted and ignored", async () => {
  const strategy = toSpotifyApiAuth(new FakeAuthProvider("t"));
  strategy.setConfiguration({ fetch: () => Promise.reject(new Error("no")) });
  assert.equal((await strategy.getOrCreateAccessToken()).access_token, "t");
});

Deno.test("toSpotifyApiAuth() needs a provider", () => {
  assert.throws(
    // deno-lint-ignore no-explicit-any
    () => toSpotifyApiAuth({} as any),
    (error) =>
      error instanceof TypeError && /getAccessToken/.test(error.message),
  );
});

// The official SDK itself, its Web API calls routed to the fake through its
// own `fetch` option.

Deno.test("the official SDK reads the fake user's profile through our AuthorizationCode", async () => {
  const { auth, server } = signedIn();
  await using _ = auth;
  const sdk = new SpotifyApi(toSpotifyApiAuth(auth), { fetch: server.fetch });
  const profile = await sdk.currentUser.profile();
  assert.equal(profile.id, "test-user");
  assert.equal(profile.display_name, "Test User");
});

Deno.test("the official SDK makes 10 000 concurrent calls with an expired token through exactly 1 token request", async () => {
  const { auth, server, clock } = signedIn();
  await using _ = auth;
  const sdk = new SpotifyApi(toSpotifyApiAuth(auth), { fetch: server.fetch });
  await sdk.currentUser.profile();
  clock.tick(3_600_000);
  const before = server.tokenRequestCount;
  const profiles = await Promise.all(
    Array.from({ length: 10_000 }, () => sdk.currentUser.profile()),
  );
  assert.equal(server.tokenRequestCount - before, 1);
  assert.ok(profiles.every((profile) => profile.id === "test-user"));
});

Deno.test("the official SDK's logOut() removes the token from our cache", async () => {
  const tokenCache = new FakeTokenCache();
  const { auth, server } = signedIn({ tokenCache });
  await using _ = auth;
  const sdk = new SpotifyApi(toSpotifyApiAuth(auth), { fetch: server.fetch });
  await sdk.currentUser.profile();
  assert.ok(tokenCache.token !== undefined);
  sdk.logOut();
  assert.equal(await sdk.getAccessToken(), null);
  assert.equal(tokenCache.deletes, 1);
  assert.equal(tokenCache.token, undefined);
});

Deno.test("the official SDK rejects with authorization_required once the user's sign-in has expired", async () => {
  const { auth, server, clock } = signedIn({ refreshTokenTtlSeconds: 7200 });
  await using _ = auth;
  const sdk = new SpotifyApi(toSpotifyApiAuth(auth), { fetch: server.fetch });
  await sdk.currentUser.profile();
  clock.tick(7_200_000);
  await assert.rejects(sdk.currentUser.profile(), isAuthorizationRequired);
  assert.equal(await sdk.getAccessToken(), null);
});
