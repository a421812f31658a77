// A fleet of processes shares one FileTokenCache / KvTokenCache while the
// user's refresh token reaches the end of its sign-in (Spotify's 6 months,
// shortened here with the fake's refreshTokenTtlSeconds). The fleet must send
// the dead refresh token once, every process must end with
// authorization_required without further requests, and one new sign-in must
// bring every process back.
//
// Small variant: part of `deno task test`. Large variant: `deno task stress`.
import assert from "node:assert/strict";
import { FakeAccountsServer } from "../../testing/fake_accounts_server.ts";
import { AuthorizationCode } from "../../auth/authorization_code.ts";
import { FileTokenCache } from "../../auth/file_token_cache.ts";
import { KvTokenCache } from "../../auth/kv_token_cache.ts";
import type { TokenCache } from "../../auth/token.ts";
import type {
  AgainReport,
  DeadRefreshWorkerConfig,
  LostReport,
} from "./_dead_refresh_worker.ts";

const WORKER = new URL("./_dead_refresh_worker.ts", import.meta.url).pathname;
const LARGE = Deno.env.get("SPOTIFY_SDK_STRESS") === "large";
const PROCESSES = LARGE ? 16 : 4;
/** The sign-in's lifetime: refresh tokens die this long after the seed. */
const SIGN_IN_SECONDS = LARGE ? 6 : 2;

interface Worker {
  child: Deno.ChildProcess;
  lines: AsyncIterator<string>;
  stdin: WritableStreamDefaultWriter<Uint8Array>;
}

function spawnWorker(config: DeadRefreshWorkerConfig): Worker {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      "--unstable-kv",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-write",
      WORKER,
      JSON.stringify(config),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const lines = child.stdout
    .pipeThrough(new TextDecoderStream())
    .pipeThrough(splitLines())
    [Symbol.asyncIterator]();
  return { child, lines, stdin: child.stdin.getWriter() };
}

function splitLines(): TransformStream<string, string> {
  let buffer = "";
  return new TransformStream({
    transform(chunk, controller) {
      buffer += chunk;
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      for (const line of parts) if (line !== "") controller.enqueue(line);
    },
    flush(controller) {
      if (buffer !== "") controller.enqueue(buffer);
    },
  });
}

async function nextLine<T>(worker: Worker): Promise<T> {
  const { value, done } = await worker.lines.next();
  assert.ok(!done, "a worker exited early");
  return JSON.parse(value);
}

async function runFleet(store: "file" | "kv"): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "dead_refresh_stress_" });
  const workers: Worker[] = [];
  try {
    await using server = new FakeAccountsServer({
      refreshTokenRotation: "always",
      accessTokenTtlSeconds: 1,
      refreshTokenTtlSeconds: SIGN_IN_SECONDS,
    });
    await server.listen();
    const path = store === "file" ? `${dir}/token.json` : `${dir}/kv.sqlite`;
    using kv = store === "kv" ? await Deno.openKv(path) : undefined;
    const cache: TokenCache = kv === undefined
      ? new FileTokenCache({ path })
      : new KvTokenCache({ kv });
    await cache.set(server.issueTokens({ scope: "user-read-private" }));

    const config: DeadRefreshWorkerConfig = {
      store,
      path,
      accountsUrl: server.url,
      durationMs: SIGN_IN_SECONDS * 1000 + 10_000,
      callsAfterLoss: 5,
    };
    const started = Date.now();
    for (let i = 0; i < PROCESSES; i++) workers.push(spawnWorker(config));
    const lost = await Promise.all(
      workers.map((worker) => nextLine<LostReport>(worker)),
    );
    const elapsedMs = Date.now() - started;

    const grants = server.requests.filter((r) => r.endpoint === "token");
    const dead = grants.filter((r) => r.status === 400);
    const okCalls = lost.reduce((sum, r) => sum + r.okCalls, 0);
    const callbacks = lost.reduce((sum, r) => sum + r.lostCallbacks, 0);
    console.log(
      `${store}: ${PROCESSES} processes, ${okCalls} successful calls in ${elapsedMs} ms, ${grants.length} token requests (${dead.length} answered invalid_grant), ${callbacks} onAuthorizationLost calls fleet-wide`,
    );
    for (const report of lost) {
      assert.deepEqual(report.errors, {});
      assert.equal(
        report.authorizationRequired,
        1 + config.callsAfterLoss,
        "every process ends with authorization_required",
      );
    }
    assert.equal(dead.length, 1, "the dead refresh token is sent once");
    assert.equal(
      grants.at(-1),
      dead[0],
      "no token request follows the invalid_grant",
    );
    assert.equal(callbacks, 1);

    // One process (this one) signs the user in again.
    await using auth = new AuthorizationCode({
      clientId: "test-client-id",
      clientSecret: "test-client-secret",
      redirectUri: "http://127.0.0.1/callback",
      accountsUrl: server.url,
      tokenCache: cache,
    });
    const { url, state } = await auth.createAuthorizationRequest();
    await auth.exchangeCode(
      auth.parseResponseUrl(await server.authorize(url), {
        expectedState: state,
      }),
    );
    const requestsBefore = server.tokenRequestCount;
    const again = await Promise.all(workers.map(async (worker) => {
      await worker.stdin.write(new TextEncoder().encode("signed in\n"));
      return await nextLine<AgainReport>(worker);
    }));
    for (const report of again) {
      assert.deepEqual(report, { phase: "again", ok: true });
    }
    assert.equal(
      server.tokenRequestCount,
      requestsBefore,
      "the new sign-in's token serves every process",
    );
  } finally {
    for (const worker of workers) {
      await worker.stdin.close().catch(() => {});
      // Drain what is left so the pipes close.
      while (!(await worker.lines.next()).done) { /* drain */ }
      await worker.child.status;
    }
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("FileTokenCache: a fleet sends a dead refresh token once and recovers after one sign-in", async () => {
  await runFleet("file");
});

Deno.test("KvTokenCache: a fleet sends a dead refresh token once and recovers after one sign-in", async () => {
  await runFleet("kv");
});
