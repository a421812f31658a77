import assert from "node:assert/strict";
import { startApp } from "../examples/authorization_code.ts";
import { startApp as startWebApp } from "../examples/web_app.ts";
import { RedisServer } from "./_redis_server.ts";

/** Plays the browser: one request, no redirect following, cookies kept. */
async function visit(url: string, cookie = "") {
  const response = await fetch(url, {
    redirect: "manual",
    headers: cookie ? { cookie } : {},
  });
  const body = await response.text();
  return { response, body, location: response.headers.get("location") };
}

Deno.test("examples/authorization_code.ts logs a user in offline: /login → /authorize → /callback → /me", async () => {
  await using app = await startApp({ fake: true, port: 0 });

  const login = await visit(`${app.url}/login`);
  assert.equal(login.response.status, 302);
  const sid = login.response.headers.get("set-cookie")!.split(";")[0];
  const authorizeUrl = new URL(login.location!);
  assert.equal(authorizeUrl.searchParams.get("code_challenge_method"), "S256");
  assert.equal(authorizeUrl.pathname, "/authorize");

  const consent = await visit(authorizeUrl.href);
  assert.equal(consent.response.status, 302);
  assert.ok(consent.location!.startsWith(`${app.url}/callback?code=`));

  const callback = await visit(consent.location!, sid);
  assert.equal(callback.response.status, 302);
  assert.equal(callback.location, "/me");

  const me = await visit(`${app.url}/me`, sid);
  assert.equal(me.response.status, 200);
  assert.deepEqual(JSON.parse(me.body), {
    display_name: "Test User",
    id: "test-user",
  });
});

Deno.test("examples/authorization_code.ts refuses a callback with a forged state", async () => {
  await using app = await startApp({ fake: true, port: 0 });
  const login = await visit(`${app.url}/login`);
  const sid = login.response.headers.get("set-cookie")!.split(";")[0];
  const forged = await visit(
    `${app.url}/callback?code=stolen&state=forged`,
    sid,
  );
  assert.equal(forged.response.status, 400);
  assert.match(forged.body, /state_mismatch/);
  const me = await visit(`${app.url}/me`, sid);
  assert.equal(me.response.status, 302, "still not logged in");
});

Deno.test("examples/web_app.ts signs a user in and out offline with UserSessions", async () => {
  await using app = await startWebApp({ fake: true, port: 0 });
  const cookieOf = (response: Response) =>
    response.headers.getSetCookie()[0].split(";")[0];

  const login = await visit(`${app.url}/login`);
  assert.equal(login.response.status, 302);
  const consent = await visit(login.location!);
  assert.ok(consent.location!.startsWith(`${app.url}/callback?code=`));
  const callback = await visit(consent.location!, cookieOf(login.response));
  assert.equal(callback.response.status, 302);
  assert.equal(callback.location, "/");
  const session = cookieOf(callback.response);
  assert.match(session, /^spotify_session=[A-Za-z0-9_-]{43}$/);

  const me = await visit(`${app.url}/me`, session);
  assert.deepEqual(JSON.parse(me.body), {
    display_name: "Test User",
    id: "test-user",
  });
  const logout = await fetch(`${app.url}/logout`, {
    method: "POST",
    redirect: "manual",
    headers: { cookie: session },
  });
  await logout.body?.cancel();
  assert.equal(logout.status, 302);
  const after = await visit(`${app.url}/me`, session);
  assert.equal(after.response.status, 302, "signed out everywhere");
  assert.equal(new URL(after.location!).pathname, "/login");
});

async function runExample(args: string[]) {
  const started = performance.now();
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...args],
    cwd: new URL("..", import.meta.url).pathname,
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    success: output.success,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
    seconds: (performance.now() - started) / 1000,
  };
}

Deno.test("examples/demo.ts tours every capability offline with the task's permissions", async () => {
  const demo = await runExample([
    "--allow-net=127.0.0.1",
    "--allow-read",
    "--allow-write",
    "--unstable-kv",
    new URL("../examples/demo.ts", import.meta.url).pathname,
  ]);
  assert.ok(demo.success, demo.stderr);
  assert.ok(demo.seconds < 10, `took ${demo.seconds}s`);
  for (
    const line of [
      "Client credentials",
      "HTTP 503 → 503 → 200",
      "(HTTP 403)",
      "state_mismatch",
      "says hello to Test User",
      "rotated the refresh token",
      "mode 600",
      "no login, 0 token requests",
      "with 1 refresh in total",
      "Done.",
    ]
  ) {
    assert.ok(demo.stdout.includes(line), `demo output lacks "${line}"`);
  }
  assert.ok(!demo.stdout.includes("\u001b["), "NO_COLOR is honoured");
  assert.doesNotMatch(demo.stdout, /demo-secret/);
});

Deno.test("examples/file_token_cache.ts reuses the token file on the second run", async () => {
  const run = await runExample([
    "--allow-net=127.0.0.1",
    "--allow-read",
    "--allow-write",
    new URL("../examples/file_token_cache.ts", import.meta.url).pathname,
  ]);
  assert.ok(run.success, run.stderr);
  assert.match(run.stdout, /first run : got a token with 1 token request/);
  assert.match(run.stdout, /second run: got a token with 0 token request/);
  assert.match(
    run.stdout,
    /mode 600 with keys access_token, expires_at, refresh_token, scope, authorized_at/,
  );
  assert.match(run.stdout, /after delete\(\): no token, the file is gone/);
});

Deno.test("examples/kv_token_cache.ts refreshes once per expiry for four workers", async () => {
  const run = await runExample([
    "--unstable-kv",
    "--allow-net=127.0.0.1",
    "--allow-read",
    "--allow-write",
    new URL("../examples/kv_token_cache.ts", import.meta.url).pathname,
  ]);
  assert.ok(run.success, run.stderr);
  assert.equal(run.stdout.match(/4 workers, 1 token, 1 refresh/g)?.length, 3);
  assert.match(run.stdout, /failed token requests: 0/);
});

Deno.test("examples/redis_token_cache.ts refreshes once per expiry for four workers on a real Redis", async () => {
  await using redis = await RedisServer.start();
  const run = await runExample([
    "--allow-net=127.0.0.1",
    "--allow-env",
    new URL("../examples/redis_token_cache.ts", import.meta.url).pathname,
    redis.url,
  ]);
  assert.ok(run.success, run.stderr);
  assert.equal(run.stdout.match(/4 workers, 1 token, 1 refresh/g)?.length, 3);
  assert.match(run.stdout, /failed token requests: 0/);
});

Deno.test("examples/login.ts --fake logs in through the loopback helper offline", async () => {
  const run = await runExample([
    "--allow-net=127.0.0.1",
    "--allow-read=.cache",
    "--allow-write=.cache",
    "examples/login.ts",
    "--fake",
  ]);
  assert.ok(run.success, run.stderr);
  assert.match(run.stdout + run.stderr, /Browser shows: 200/);
  assert.match(run.stdout + run.stderr, /Logged in as Test User/);
});

/** `deno task login …` from the repository root, with `env` added. */
async function runLoginTask(args: string[], env: Record<string, string>) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["task", "login", ...args],
    cwd: new URL("..", import.meta.url).pathname,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return {
    success: output.success,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

Deno.test("deno task login --fake logs in offline without warning about a missing .env", async () => {
  const run = await runLoginTask(["--fake"], { BROWSER: "" });
  assert.ok(run.success, run.stderr);
  assert.match(run.stdout, /Logged in as Test User/);
  assert.doesNotMatch(run.stderr, /warning|not found|No \.env/i);
});

Deno.test("deno task login --fake shows the login page with $BROWSER when it is set", async () => {
  const directory = await Deno.makeTempDir({ prefix: "login_browser_" });
  try {
    // A "browser" that loads the page, following the fake's redirect.
    const browser = `${directory}/browser.ts`;
    await Deno.writeTextFile(
      browser,
      "await (await fetch(Deno.args[0])).text();\n",
    );
    const run = await runLoginTask(["--fake"], {
      BROWSER: `${Deno.execPath()} run --allow-net=127.0.0.1 ${browser}`,
    });
    assert.ok(run.success, run.stderr);
    assert.match(run.stderr, /Opening your browser to log in to Spotify/);
    assert.match(run.stderr, /Now waiting for the browser .* gives up at/);
    // This process did not play the browser: the one in $BROWSER did.
    assert.doesNotMatch(run.stderr, /Browser shows/);
    assert.match(run.stdout, /Logged in as Test User/);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
});

Deno.test("examples/official_sdk.ts --fake reads the profile through the official SDK offline, with no permissions", async () => {
  const run = await runExample(["examples/official_sdk.ts", "--fake"]);
  assert.ok(run.success, run.stderr);
  assert.match(
    run.stdout,
    /Signed in as Test User \(test-user\) through the official SDK/,
  );
  assert.match(run.stdout, /100 concurrent SDK calls .*: 1 token request/);
  assert.match(
    run.stdout,
    /After sdk.logOut\(\), sdk.getAccessToken\(\) is null/,
  );
});
