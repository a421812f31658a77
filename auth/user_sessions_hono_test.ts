// UserSessions wired into a real Hono app (npm:hono; tests only): the
// handlers pass Hono's `c.req.raw` and return UserSessions' responses as
// they are.

import assert from "node:assert/strict";
// deno-lint-ignore no-import-prefix
import { Hono } from "npm:hono@4.7.10";
import {
  APP_URL,
  Browser,
  startTestApp,
  type TestApp,
} from "./_test_user_sessions.ts";
import { SpotifyAuthError } from "./errors.ts";

function honoApp(app: TestApp): Hono {
  const { sessions, server } = app;
  const hono = new Hono();
  hono.get("/login", (c) => sessions.signIn(c.req.raw));
  hono.get(
    "/callback",
    async (c) => (await sessions.handleCallback(c.req.raw)).response,
  );
  hono.post("/logout", (c) => sessions.signOut(c.req.raw));
  hono.get("/me", async (c) => {
    const token = await sessions.getAccessToken(c.req.raw);
    const me = await server.fetch("https://api.spotify.com/v1/me", {
      headers: { authorization: `Bearer ${token}` },
    });
    return c.json({ name: (await me.json()).display_name });
  });
  hono.onError((error, c) => {
    if (error instanceof SpotifyAuthError) {
      return c.json(
        { error: error.code },
        error.code === "authorization_required" ? 401 : 400,
      );
    }
    throw error;
  });
  return hono;
}

Deno.test("UserSessions works in a Hono app through c.req.raw: sign-in, a Web API call, sign-out", async () => {
  await using app = await startTestApp();
  const hono = honoApp(app);
  const browser = new Browser();
  const visit = async (path: string, init?: RequestInit) =>
    browser.receive(await hono.fetch(browser.request(path, init)));

  const login = await visit("/login");
  assert.equal(login.status, 302);
  const callbackUrl = await app.server.authorize(
    login.headers.get("location")!,
    { user: "alice" },
  );
  const callback = await visit(callbackUrl.replace(APP_URL, ""));
  assert.equal(callback.status, 302);
  assert.equal(callback.headers.get("location"), "/");
  assert.ok(browser.cookies.has("spotify_session"));

  const me = await visit("/me");
  assert.deepEqual(await me.json(), { name: "Alice" });

  const logout = await visit("/logout", { method: "POST" });
  assert.equal(logout.status, 302);
  assert.equal(browser.cookies.has("spotify_session"), false);
  const after = await visit("/me");
  assert.equal(after.status, 401);
  assert.deepEqual(await after.json(), { error: "authorization_required" });
});

Deno.test("UserSessions in a Hono app answers a forged callback with state_mismatch", async () => {
  await using app = await startTestApp();
  const hono = honoApp(app);
  const response = await hono.fetch(
    new Request(`${APP_URL}/callback?code=stolen&state=${"A".repeat(43)}`),
  );
  assert.equal(response.status, 400);
  assert.deepEqual(await response.json(), { error: "state_mismatch" });
});
