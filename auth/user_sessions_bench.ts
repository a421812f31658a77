// UserSessions at 10 000 sessions in one KV (a SQLite file), against the
// in-process fake accounts service:
// - sign-in + callback round trips per second (how the sessions are made);
// - getAccessToken(request) for a signed-in, cached session: p50 / p99;
// - process memory after touching all 10 000 sessions, which must stay
//   under MEMORY_CAP_MIB with maxCachedSessions at its default (1000).
// The one-off figures are printed before the benchmarks run:
//   deno bench --allow-read --allow-write --allow-env --unstable-kv auth/user_sessions_bench.ts

import { Browser, REDIRECT_URI } from "./_test_user_sessions.ts";
import { FakeAccountsServer } from "../testing/mod.ts";
import { UserSessions } from "./user_sessions.ts";

const SESSIONS = 10_000;
const CACHED = 1000;
/**
 * The cap: heap growth of a fresh process from touching all 10 000 sessions
 * (so at most 1000 providers in memory). The same run with
 * `maxCachedSessions: 10_000` is printed beside it for comparison.
 */
const MEMORY_CAP_MIB = 16;
/** And the whole process (runtime, SQLite, heap) stays under this. */
const RSS_CAP_MIB = 256;
const MIB = 1024 * 1024;

const directory = await Deno.makeTempDir({ prefix: "user_sessions_bench_" });
const kv = await Deno.openKv(`${directory}/kv.sqlite3`);
const server = new FakeAccountsServer();
const options = {
  kv,
  clientId: "test-client-id",
  clientSecret: "test-client-secret",
  redirectUri: REDIRECT_URI,
  scope: "user-read-private",
  fetch: server.fetch,
};
globalThis.addEventListener("unload", () => {
  kv.close();
  Deno.removeSync(directory, { recursive: true });
});

async function signInOnce(sessions: UserSessions): Promise<Request> {
  const browser = new Browser();
  const login = browser.receive(
    await sessions.signIn(browser.request("/login")),
  );
  const callback = await server.authorize(login.headers.get("location")!);
  browser.receive(
    (await sessions.handleCallback(browser.request(callback))).response,
  );
  return browser.request("/");
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

// 1. 10 000 sign-ins, timed, IN_FLIGHT browsers at a time (as a server
// would see them).
const IN_FLIGHT = 20;
const creator = new UserSessions({ ...options, maxCachedSessions: CACHED });
const requests: Request[] = [];
const started = performance.now();
while (requests.length < SESSIONS) {
  requests.push(
    ...await Promise.all(
      Array.from({ length: IN_FLIGHT }, () => signInOnce(creator)),
    ),
  );
}
const signInSeconds = (performance.now() - started) / 1000;
await creator.close();

// 2. Memory: a fresh process touches every session once (see
// _test_user_sessions_memory.ts), with the default cap and without one.
async function touchAllInChild(maxCachedSessions: number) {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--v8-flags=--expose-gc",
      "--allow-read",
      "--allow-write",
      "--allow-env",
      "--unstable-kv",
      new URL("./_test_user_sessions_memory.ts", import.meta.url).pathname,
      `${directory}/kv.sqlite3`,
      String(maxCachedSessions),
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) throw new Error(new TextDecoder().decode(output.stderr));
  return JSON.parse(new TextDecoder().decode(output.stdout)) as {
    sessions: number;
    touchesPerSecond: number;
    rss: number;
    heapUsed: number;
    heapGrowth: number;
  };
}
const capped = await touchAllInChild(CACHED);
const uncapped = await touchAllInChild(SESSIONS);

// 3. Cached calls: 1000 sessions in memory.
const sessions = new UserSessions({ ...options, maxCachedSessions: CACHED });
const hot = requests.slice(-CACHED);
for (const request of hot) await sessions.getAccessToken(request);
const samples: number[] = [];
for (let round = 0; round < 20; round++) {
  for (const request of hot) {
    const start = performance.now();
    await sessions.getAccessToken(request);
    samples.push(performance.now() - start);
  }
}
samples.sort((a, b) => a - b);

const mib = (bytes: number) => `${(bytes / MIB).toFixed(1)} MiB`;
console.log(
  [
    `UserSessions, ${SESSIONS} sessions in one KV file:`,
    `  sign-in + callback round trips: ${
      (SESSIONS / signInSeconds).toFixed(0)
    }/s with ${IN_FLIGHT} in flight (${
      signInSeconds.toFixed(1)
    } s for ${SESSIONS})`,
    `  cached getAccessToken(request): p50 ${
      (percentile(samples, 0.5) * 1000).toFixed(1)
    } µs, p99 ${
      (percentile(samples, 0.99) * 1000).toFixed(1)
    } µs (${samples.length} calls)`,
    `  a fresh process touching all ${capped.sessions} (maxCachedSessions ${CACHED}): ${
      capped.touchesPerSecond.toFixed(0)
    }/s; then rss ${mib(capped.rss)}, heap ${
      mib(capped.heapUsed)
    }, heap growth ${
      mib(capped.heapGrowth)
    } (caps: heap growth ${MEMORY_CAP_MIB} MiB, rss ${RSS_CAP_MIB} MiB)`,
    `  the same with maxCachedSessions ${SESSIONS} (no cap in effect): rss ${
      mib(uncapped.rss)
    }, heap growth ${mib(uncapped.heapGrowth)}`,
  ].join("\n"),
);
if (
  capped.heapGrowth / MIB > MEMORY_CAP_MIB || capped.rss / MIB > RSS_CAP_MIB
) {
  throw new Error(
    `UserSessions kept ${
      mib(capped.heapGrowth)
    } after touching ${SESSIONS} sessions: over the ${MEMORY_CAP_MIB} MiB cap`,
  );
}

let next = 0;
Deno.bench("UserSessions.getAccessToken(request), cached session", async () => {
  await sessions.getAccessToken(hot[next++ % hot.length]);
});

let cold = 0;
Deno.bench(
  "UserSessions.getAccessToken(request), session not in memory (from KV)",
  async () => {
    // Walks the 9000 sessions outside the LRU: each call is a miss.
    await sessions.getAccessToken(requests[cold++ % (SESSIONS - CACHED)]);
  },
);

const roundTrips = new UserSessions({ ...options, maxCachedSessions: CACHED });
Deno.bench(
  "UserSessions sign-in + callback round trip (in-process fake)",
  async () => {
    await signInOnce(roundTrips);
  },
);
