// Refresh-token lifetime (0.2): refresh tokens die a fixed time after the
// sign-in they descend from, as Spotify's do since 2026.

import assert from "node:assert/strict";
import { FakeAccountsServer, FakeClock } from "./mod.ts";
import {
  authorizeUrl,
  CHALLENGE,
  exchange,
  getCode,
  postToken,
  VERIFIER,
} from "./_test_helpers.ts";

const EXPIRED = {
  error: "invalid_grant",
  error_description: "Refresh token expired",
};

function refresh(server: FakeAccountsServer, refreshToken: string) {
  return postToken(server.fetch, {
    grant_type: "refresh_token",
    refresh_token: refreshToken,
  });
}

Deno.test("the default refresh-token lifetime is 180 days from the sign-in", () => {
  const clock = new FakeClock();
  const server = new FakeAccountsServer({ clock });
  const { refreshToken, authorizedAt } = server.issueTokens();
  assert.equal(authorizedAt, clock.now() / 1000);
  assert.deepEqual(server.inspectRefreshToken(refreshToken!), {
    clientId: "test-client-id",
    userId: "test-user",
    scope: "",
    authorizedAt: clock.now() / 1000,
    expiresAt: clock.now() / 1000 + 15_552_000,
    active: true,
  });
});

Deno.test("a code's refresh token carries the time of authorize(), not of the exchange", async () => {
  const clock = new FakeClock();
  const signedInAt = clock.now() / 1000;
  const server = new FakeAccountsServer({ clock });
  const code = await getCode(server);
  clock.tick(300_000);
  const { body } = await exchange(server, code);
  assert.equal(
    server.inspectRefreshToken(body.refresh_token)?.authorizedAt,
    signedInAt,
  );
});

Deno.test("a code from GET /authorize carries the time of that request", async () => {
  const clock = new FakeClock();
  const signedInAt = clock.now() / 1000;
  const server = new FakeAccountsServer({ clock });
  const response = await server.fetch(authorizeUrl(), { redirect: "manual" });
  assert.equal(response.status, 302);
  const location = new URL(response.headers.get("location")!);
  clock.tick(300_000);
  const { body } = await exchange(server, location.searchParams.get("code")!);
  assert.equal(
    server.inspectRefreshToken(body.refresh_token)?.authorizedAt,
    signedInAt,
  );
});

Deno.test("a refresh just before the deadline works, at the deadline it is 'Refresh token expired'", async () => {
  const clock = new FakeClock();
  const server = new FakeAccountsServer({ clock, refreshTokenTtlSeconds: 60 });
  const { refreshToken } = server.issueTokens();
  clock.tick(59_999);
  assert.equal((await refresh(server, refreshToken!)).status, 200);
  clock.tick(1);
  const answer = await refresh(server, refreshToken!);
  assert.equal(answer.status, 400);
  assert.deepEqual(answer.body, EXPIRED);
  assert.equal(server.inspectRefreshToken(refreshToken!)?.active, false);
});

Deno.test("refreshing does not extend the lifetime", async () => {
  const clock = new FakeClock();
  const server = new FakeAccountsServer({ clock, refreshTokenTtlSeconds: 60 });
  const { refreshToken } = server.issueTokens();
  for (let second = 0; second < 60; second += 20) {
    assert.equal((await refresh(server, refreshToken!)).status, 200);
    clock.tick(20_000);
  }
  assert.deepEqual((await refresh(server, refreshToken!)).body, EXPIRED);
});

Deno.test("a rotated refresh token inherits its predecessor's sign-in and deadline", async () => {
  const clock = new FakeClock();
  const server = new FakeAccountsServer({
    clock,
    refreshTokenRotation: "always",
    refreshTokenTtlSeconds: 100,
  });
  const first = server.issueTokens().refreshToken!;
  const before = server.inspectRefreshToken(first)!;
  clock.tick(50_000);
  const second = (await refresh(server, first)).body.refresh_token;
  assert.equal(second, "fake-refresh-2");
  const after = server.inspectRefreshToken(second)!;
  assert.equal(after.authorizedAt, before.authorizedAt);
  assert.equal(after.expiresAt, before.expiresAt);
  assert.equal(server.inspectRefreshToken(first)?.active, false);
  clock.tick(50_000);
  assert.deepEqual((await refresh(server, second)).body, EXPIRED);
});

Deno.test("a PKCE refresh token's rotations keep the sign-in's deadline", async () => {
  const clock = new FakeClock();
  const server = new FakeAccountsServer({
    clock,
    clients: [{ clientId: "cli", redirectUris: ["http://127.0.0.1/callback"] }],
    refreshTokenTtlSeconds: 100,
  });
  const code = await getCode(server, {
    client_id: "cli",
    redirect_uri: "http://127.0.0.1/callback",
    code_challenge_method: "S256",
    code_challenge: CHALLENGE,
  });
  const tokens = await postToken(server.fetch, {
    grant_type: "authorization_code",
    code,
    redirect_uri: "http://127.0.0.1/callback",
    client_id: "cli",
    code_verifier: VERIFIER,
  }, { authorization: null });
  const pkceRefresh = (token: string) =>
    postToken(server.fetch, {
      grant_type: "refresh_token",
      refresh_token: token,
      client_id: "cli",
    }, { authorization: null });
  clock.tick(99_000);
  const rotated = await pkceRefresh(tokens.body.refresh_token);
  assert.equal(rotated.status, 200);
  clock.tick(1_000);
  assert.deepEqual(
    (await pkceRefresh(rotated.body.refresh_token)).body,
    EXPIRED,
  );
});

Deno.test("a refresh token both revoked and expired is 'Refresh token revoked'", async () => {
  const clock = new FakeClock();
  const server = new FakeAccountsServer({ clock, refreshTokenTtlSeconds: 60 });
  const { refreshToken } = server.issueTokens();
  server.revokeRefreshToken(refreshToken!);
  clock.tick(60_000);
  assert.deepEqual((await refresh(server, refreshToken!)).body, {
    error: "invalid_grant",
    error_description: "Refresh token revoked",
  });
});

Deno.test("a rotated-away refresh token past its deadline is still 'Invalid refresh token'", async () => {
  const clock = new FakeClock();
  const server = new FakeAccountsServer({
    clock,
    refreshTokenRotation: "always",
    refreshTokenTtlSeconds: 60,
  });
  const { refreshToken } = server.issueTokens();
  await refresh(server, refreshToken!);
  clock.tick(60_000);
  assert.deepEqual((await refresh(server, refreshToken!)).body, {
    error: "invalid_grant",
    error_description: "Invalid refresh token",
  });
});

Deno.test("a new sign-in starts a new lifetime", async () => {
  const clock = new FakeClock();
  const server = new FakeAccountsServer({ clock, refreshTokenTtlSeconds: 60 });
  const old = (await exchange(server, await getCode(server))).body;
  clock.tick(60_000);
  assert.deepEqual((await refresh(server, old.refresh_token)).body, EXPIRED);
  const fresh = (await exchange(server, await getCode(server))).body;
  clock.tick(59_000);
  assert.equal((await refresh(server, fresh.refresh_token)).status, 200);
});

Deno.test("issueTokens({ authorizedAt }) seeds an older sign-in", async () => {
  const clock = new FakeClock();
  const server = new FakeAccountsServer({ clock });
  const authorizedAt = clock.now() / 1000 - 180 * 86_400;
  const token = server.issueTokens({ authorizedAt });
  assert.equal(token.authorizedAt, authorizedAt);
  assert.equal(server.inspectRefreshToken(token.refreshToken!)?.active, false);
  assert.deepEqual((await refresh(server, token.refreshToken!)).body, EXPIRED);
  const recent = server.issueTokens({ authorizedAt: authorizedAt + 1 });
  assert.equal((await refresh(server, recent.refreshToken!)).status, 200);
});

Deno.test("issueTokens({ authorizedAt }) keeps fractional seconds of a millisecond clock", () => {
  const clock = new FakeClock(1_767_225_600_123);
  const server = new FakeAccountsServer({ clock, refreshTokenTtlSeconds: 1 });
  const { refreshToken } = server.issueTokens({
    authorizedAt: clock.now() / 1000,
  });
  clock.tick(999);
  assert.equal(server.inspectRefreshToken(refreshToken!)?.active, true);
  clock.tick(1);
  assert.equal(server.inspectRefreshToken(refreshToken!)?.active, false);
});

Deno.test("an app token from issueTokens() has no authorizedAt", () => {
  const server = new FakeAccountsServer();
  assert.equal("authorizedAt" in server.issueTokens({ userId: null }), false);
});

Deno.test("issueTokens() rejects a malformed authorizedAt, naming the value and its type", () => {
  const server = new FakeAccountsServer();
  assert.throws(
    // @ts-expect-error: a string, not a number
    () => server.issueTokens({ authorizedAt: "1767225600" }),
    (error: Error) =>
      error instanceof TypeError &&
      error.message.includes('"1767225600" (string)'),
  );
  assert.throws(() => server.issueTokens({ authorizedAt: NaN }), RangeError);
  assert.throws(() => server.issueTokens({ authorizedAt: -1 }), RangeError);
  assert.throws(
    () => server.issueTokens({ userId: null, authorizedAt: 0 }),
    /app token/,
  );
});

Deno.test("inspectRefreshToken() is undefined for tokens the server never issued", () => {
  const server = new FakeAccountsServer();
  const { accessToken } = server.issueTokens();
  assert.equal(server.inspectRefreshToken("fake-refresh-99"), undefined);
  assert.equal(server.inspectRefreshToken(accessToken), undefined);
});

Deno.test("inspectRefreshToken() reports revoked and rotated-away tokens as inactive", async () => {
  const server = new FakeAccountsServer({ refreshTokenRotation: "always" });
  const revoked = server.issueTokens().refreshToken!;
  server.revokeRefreshToken(revoked);
  const rotated = server.issueTokens({ scope: "user-top-read" }).refreshToken!;
  const successor = (await refresh(server, rotated)).body.refresh_token;
  assert.equal(server.inspectRefreshToken(revoked)?.active, false);
  assert.equal(server.inspectRefreshToken(rotated)?.active, false);
  assert.equal(server.inspectRefreshToken(successor)?.active, true);
  assert.equal(server.inspectRefreshToken(successor)?.scope, "user-top-read");
});

Deno.test("refreshTokenTtlSeconds must be a positive number of seconds", () => {
  assert.throws(
    () => new FakeAccountsServer({ refreshTokenTtlSeconds: 0 }),
    RangeError,
  );
  assert.throws(
    () => new FakeAccountsServer({ refreshTokenTtlSeconds: Infinity }),
    RangeError,
  );
  assert.throws(
    // @ts-expect-error: a string, not a number
    () => new FakeAccountsServer({ refreshTokenTtlSeconds: "60" }),
    (error: Error) =>
      error instanceof TypeError && error.message.includes('"60" (string)'),
  );
});

Deno.test("reset() forgets refresh tokens and their sign-ins", () => {
  const server = new FakeAccountsServer();
  const { refreshToken } = server.issueTokens();
  server.reset();
  assert.equal(server.inspectRefreshToken(refreshToken!), undefined);
});
