// Many processes share one FileTokenCache / KvTokenCache and one fake
// accounts service that rotates refresh tokens on every refresh: any refresh
// that is not serialised across processes ends in invalid_grant.
//
// Small variant: part of `deno task test`. Large variant:
//   SPOTIFY_SDK_STRESS=large deno test --allow-net=127.0.0.1 --allow-read \
//     --allow-write --allow-run --allow-env --unstable-kv tests/stress/
import assert from "node:assert/strict";
import { FakeAccountsServer } from "../../testing/fake_accounts_server.ts";
import { FileTokenCache } from "../../auth/file_token_cache.ts";
import { KvTokenCache } from "../../auth/kv_token_cache.ts";
import type { WorkerConfig, WorkerReport } from "./_token_cache_worker.ts";

const WORKER = new URL("./_token_cache_worker.ts", import.meta.url).pathname;
const LARGE = Deno.env.get("SPOTIFY_SDK_STRESS") === "large";
const PROCESSES = LARGE ? 16 : 8;
const DURATION_MS = LARGE ? 20_000 : 2_500;
const TTL_SECONDS = 1;
const STALE_MS = 1_000;

function spawnWorker(config: WorkerConfig): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
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
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

async function reportOf(child: Deno.ChildProcess): Promise<WorkerReport> {
  const output = await child.output();
  const decoder = new TextDecoder();
  assert.equal(output.code, 0, decoder.decode(output.stderr));
  return JSON.parse(decoder.decode(output.stdout));
}

/** Starts a process that takes the lock, then SIGKILLs it while it holds it. */
async function killLockHolder(config: WorkerConfig): Promise<void> {
  const hog = spawnWorker({ ...config, mode: "hog" });
  const reader = hog.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("locked")) {
    const { value, done } = await reader.read();
    if (done) break;
    seen += value;
  }
  hog.kill("SIGKILL");
  await reader.cancel();
  await hog.stderr.cancel();
  const status = await hog.status;
  assert.equal(status.signal, "SIGKILL");
}

async function runScenario(
  store: "file" | "kv",
  options: { killHolder: boolean },
): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "token_cache_stress_" });
  try {
    await using server = new FakeAccountsServer({
      refreshTokenRotation: "always",
      accessTokenTtlSeconds: TTL_SECONDS,
    });
    await server.listen();
    const path = store === "file" ? `${dir}/token.json` : `${dir}/kv.sqlite`;
    const seed = server.issueTokens({ scope: "user-read-private" });
    if (store === "file") await new FileTokenCache({ path }).set(seed);
    else {
      using kv = await Deno.openKv(path);
      await new KvTokenCache({ kv }).set(seed);
    }
    const config: WorkerConfig = {
      store,
      path,
      accountsUrl: server.url,
      durationMs: DURATION_MS,
      staleMs: STALE_MS,
      mode: "work",
    };
    const started = Date.now();
    const workers = Array.from(
      { length: PROCESSES },
      () => spawnWorker(config),
    );
    if (options.killHolder) await killLockHolder(config);
    const reports = await Promise.all(workers.map(reportOf));
    const elapsedMs = Date.now() - started;

    const grants = server.requests.filter((r) => r.endpoint === "token");
    const refreshes = grants.filter((r) => r.grantType === "refresh_token");
    const failed = grants.filter((r) => r.status !== 200);
    const cycles = reports.reduce((sum, r) => sum + r.cycles, 0);
    const corrupt = reports.reduce((sum, r) => sum + r.corruptReads, 0);
    const errors = reports.flatMap((r) => Object.entries(r.errors));
    // The seed expires TTL after it was issued, then every token lives TTL
    // (plus the time to fetch it): at most one refresh per period.
    const periods = Math.ceil(elapsedMs / (TTL_SECONDS * 1000));
    console.log(
      `${store}${
        options.killHolder ? " (lock holder killed)" : ""
      }: ${PROCESSES} processes, ${cycles} getAccessToken() cycles in ${elapsedMs} ms, ≤${periods} expiry periods, ${refreshes.length} refresh grants, ${failed.length} failed grants, ${corrupt} corrupt reads, errors ${
        JSON.stringify(Object.fromEntries(errors))
      }`,
    );
    assert.deepEqual(errors, []);
    assert.equal(failed.length, 0, JSON.stringify(failed));
    assert.equal(corrupt, 0);
    assert.equal(grants.length, refreshes.length);
    assert.ok(refreshes.length >= 1, "no refresh happened");
    assert.ok(
      refreshes.length <= periods,
      `${refreshes.length} refreshes for ${periods} periods`,
    );
    for (const report of reports) assert.ok(report.cycles > 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("FileTokenCache: processes sharing a rotating refresh token refresh once per expiry", async () => {
  await runScenario("file", { killHolder: false });
});

Deno.test("KvTokenCache: processes sharing a rotating refresh token refresh once per expiry", async () => {
  await runScenario("kv", { killHolder: false });
});

Deno.test("FileTokenCache: the others carry on after a lock holder is SIGKILLed", async () => {
  await runScenario("file", { killHolder: true });
});

Deno.test("KvTokenCache: the others carry on after a lease holder is SIGKILLed", async () => {
  await runScenario("kv", { killHolder: true });
});
