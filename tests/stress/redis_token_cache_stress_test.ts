// Many processes, each with its own Redis connection (node-redis and ioredis
// alternating), share one RedisTokenCache and one fake accounts service that
// rotates refresh tokens on every refresh and issues 1 s access tokens: any
// refresh that is not serialised across processes ends in invalid_grant.
//
// Small variant: part of `deno task test`. Large variant (16 processes):
//   SPOTIFY_SDK_STRESS=large deno test --allow-net=127.0.0.1 --allow-read \
//     --allow-write --allow-run --allow-env --unstable-kv tests/stress/
import assert from "node:assert/strict";
import { FakeAccountsServer } from "../../testing/fake_accounts_server.ts";
import { RedisTokenCache } from "../../auth/redis_token_cache.ts";
import { RedisServer } from "../_redis_server.ts";
import { CLIENT_KINDS, connectRedis } from "../_redis_clients.ts";
import type { RedisWorkerConfig, RedisWorkerReport } from "./_redis_worker.ts";

const WORKER = new URL("./_redis_worker.ts", import.meta.url).pathname;
const LARGE = Deno.env.get("SPOTIFY_SDK_STRESS") === "large";
const PROCESSES = LARGE ? 16 : 4;
const DURATION_MS = LARGE ? 20_000 : 2_000;
const TTL_SECONDS = 1;
const LEASE_MS = 1_000;
const KEY = "stress:spotify-token";

function spawnWorker(config: RedisWorkerConfig): Deno.ChildProcess {
  return new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--quiet",
      "--no-prompt",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-env",
      WORKER,
      JSON.stringify(config),
    ],
    stdin: config.mode === "until-lost" ? "piped" : "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
}

/** The fleet's configs: node-redis and ioredis take turns. */
function fleet(base: Omit<RedisWorkerConfig, "client">): RedisWorkerConfig[] {
  return Array.from({ length: PROCESSES }, (_, i) => ({
    ...base,
    client: CLIENT_KINDS[i % CLIENT_KINDS.length],
  }));
}

/** Reads a child's stdout line by line; `stderr` is kept for failures. */
class WorkerProcess {
  readonly child: Deno.ChildProcess;
  readonly #lines: AsyncIterator<string>;
  readonly #stderr: Promise<string>;
  readonly #writer: WritableStreamDefaultWriter<Uint8Array> | undefined;

  constructor(config: RedisWorkerConfig) {
    this.child = spawnWorker(config);
    this.#lines = lines(this.child.stdout);
    this.#stderr = new Response(this.child.stderr).text();
    this.#writer = config.mode === "until-lost"
      ? this.child.stdin.getWriter()
      : undefined;
  }

  async nextLine(): Promise<string> {
    const { value, done } = await this.#lines.next();
    if (done) {
      const status = await this.child.status;
      throw new Error(
        `worker exited (${status.code}) early:\n${await this.#stderr}`,
      );
    }
    return value;
  }

  async send(command: string): Promise<void> {
    await this.#writer!.write(new TextEncoder().encode(`${command}\n`));
  }

  /** The last line, parsed, once the worker exited successfully. */
  async report(): Promise<RedisWorkerReport> {
    const report = JSON.parse(await this.nextLine());
    await this.#writer?.close();
    const status = await this.child.status;
    assert.equal(status.code, 0, await this.#stderr);
    await this.#lines.return?.();
    return report;
  }

  async kill(): Promise<void> {
    this.child.kill("SIGKILL");
    await this.#writer?.close().catch(() => {});
    await this.#lines.return?.();
    await this.#stderr;
    assert.equal((await this.child.status).signal, "SIGKILL");
  }
}

async function* lines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  let buffered = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    buffered += text;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
    }
  }
}

/** Seeds Redis with a fresh user token from `server`. */
async function seed(redis: RedisServer, server: FakeAccountsServer) {
  await using client = await connectRedis("ioredis", redis.port);
  await new RedisTokenCache({ redis: client.redis, key: KEY })
    .set(server.issueTokens({ scope: "user-read-private" }));
}

async function runRotation(options: { killHolder: boolean }): Promise<void> {
  await using redis = await RedisServer.start();
  await using server = new FakeAccountsServer({
    refreshTokenRotation: "always",
    accessTokenTtlSeconds: TTL_SECONDS,
  });
  await server.listen();
  await seed(redis, server);
  const base = {
    port: redis.port,
    key: KEY,
    accountsUrl: server.url,
    durationMs: DURATION_MS,
    leaseMs: LEASE_MS,
  };
  const started = Date.now();
  const workers = fleet({ ...base, mode: "work" }).map((config) =>
    new WorkerProcess(config)
  );
  if (options.killHolder) {
    const hog = new WorkerProcess({
      ...base,
      client: "node-redis",
      mode: "hog",
    });
    assert.equal(await hog.nextLine(), "locked");
    await hog.kill();
  }
  const reports = await Promise.all(workers.map((worker) => worker.report()));
  const elapsedMs = Date.now() - started;

  const grants = server.requests.filter((r) => r.endpoint === "token");
  const refreshes = grants.filter((r) => r.grantType === "refresh_token");
  const failed = grants.filter((r) => r.status !== 200);
  const cycles = reports.reduce((sum, r) => sum + r.cycles, 0);
  const errors = reports.flatMap((r) => Object.entries(r.errors));
  // The seed expires TTL after it was issued, then every token lives TTL
  // (plus the time to fetch it): at most one refresh per period.
  const periods = Math.ceil(elapsedMs / (TTL_SECONDS * 1000));
  console.log(
    `redis${
      options.killHolder ? " (lock holder killed)" : ""
    }: ${PROCESSES} processes, ${cycles} getAccessToken() cycles in ${elapsedMs} ms, ≤${periods} expiry periods, ${refreshes.length} refresh grants, ${failed.length} failed grants, errors ${
      JSON.stringify(Object.fromEntries(errors))
    }`,
  );
  assert.deepEqual(errors, []);
  assert.equal(failed.length, 0, JSON.stringify(failed));
  assert.equal(grants.length, refreshes.length);
  assert.ok(refreshes.length >= 1, "no refresh happened");
  assert.ok(
    refreshes.length <= periods + 1,
    `${refreshes.length} refreshes for ${periods} periods`,
  );
  for (const report of reports) assert.ok(report.cycles > 0);
}

Deno.test("RedisTokenCache: processes with their own connections refresh a rotating token once per expiry", async () => {
  await runRotation({ killHolder: false });
});

Deno.test("RedisTokenCache: the others carry on after the lock holder is SIGKILLed", async () => {
  await runRotation({ killHolder: true });
});

Deno.test("RedisTokenCache: a fleet sends a dead refresh token once, then one sign-in brings every process back", async () => {
  await using redis = await RedisServer.start();
  await using server = new FakeAccountsServer({
    refreshTokenRotation: "always",
    accessTokenTtlSeconds: TTL_SECONDS,
    refreshTokenTtlSeconds: 2,
  });
  await server.listen();
  await seed(redis, server);
  const workers = fleet({
    port: redis.port,
    key: KEY,
    accountsUrl: server.url,
    durationMs: 30_000,
    leaseMs: LEASE_MS,
    mode: "until-lost",
  }).map((config) => new WorkerProcess(config));

  for (const worker of workers) assert.equal(await worker.nextLine(), "lost");
  const beforeSignIn = server.requests.filter((r) => r.endpoint === "token");
  const rejected = beforeSignIn.filter((r) => r.status !== 200);
  assert.equal(rejected.length, 1, JSON.stringify(rejected));
  assert.equal(rejected[0].status, 400);
  assert.equal(rejected[0].grantType, "refresh_token");
  assert.equal(beforeSignIn.at(-1), rejected[0], "no request after it");

  await workers[0].send("sign-in");
  assert.equal(await workers[0].nextLine(), "signed-in");
  for (const worker of workers) await worker.send("go");
  const reports = await Promise.all(workers.map((worker) => worker.report()));

  const grants = server.requests.filter((r) => r.endpoint === "token");
  console.log(
    `redis (dead refresh token): ${PROCESSES} processes, ${grants.length} token requests: ${
      grants.map((r) => `${r.grantType}:${r.status}`).join(" ")
    }`,
  );
  for (const report of reports) {
    assert.deepEqual(
      Object.keys(report.errors),
      ["authorization_required"],
      JSON.stringify(report.errors),
    );
    assert.deepEqual(
      report.afterLost,
      [
        "authorization_required",
        "authorization_required",
        "authorization_required",
      ],
    );
    assert.equal(report.worksAfterSignIn, true);
  }
  const afterSignIn = grants.slice(beforeSignIn.length);
  assert.equal(afterSignIn[0].grantType, "authorization_code");
  assert.ok(afterSignIn.every((r) => r.status === 200));
});
