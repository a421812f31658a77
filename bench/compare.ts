// Prints the comparison table (Markdown) of issue [F]: cached tokens, cold
// concurrency against the official SDK, the fake accounts server against
// oauth2-mock-server, and the cost of importing the module.
//
//   deno run --allow-net=127.0.0.1 --allow-read --allow-write --allow-env \
//     --allow-run --unstable-kv bench/compare.ts
//
// Figures are medians of repeated runs on the machine at hand; the ratios
// are what carries over between machines.

import { FakeAccountsServer } from "../testing/mod.ts";
import {
  clientCredentialsInit,
  grantsPerSecond,
  officialSdkColdRequests,
  ourColdRequests,
  startFakeServer,
  startOauth2MockServer,
  STORED_TOKEN,
  warmProviders,
} from "./_fixtures.ts";

const QUICK = Deno.args.includes("--quick");
const SAMPLES = QUICK ? 5 : 15;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1
    ? sorted[middle]
    : (sorted[middle - 1] + sorted[middle]) / 2;
}

/**
 * Median nanoseconds per call of each function, measured in batches taken
 * in turn so that JIT warm-up and machine noise hit them all alike.
 */
async function nsPerCall(
  fns: readonly (() => Promise<unknown>)[],
  batch = 100_000,
): Promise<number[]> {
  const run = async (fn: () => Promise<unknown>) => {
    const startedAt = performance.now();
    for (let i = 0; i < batch; i++) await fn();
    return ((performance.now() - startedAt) * 1e6) / batch;
  };
  for (const fn of fns) await run(fn); // warm-up
  const samples = fns.map((): number[] => []);
  for (let i = 0; i < SAMPLES * 2; i++) {
    for (const [index, fn] of fns.entries()) samples[index].push(await run(fn));
  }
  return samples.map(median);
}

const rows: string[][] = [];
function row(
  measure: string,
  ours: string,
  other: string,
  ratio: string,
  target: string,
  met?: boolean,
): void {
  rows.push([
    measure,
    ours,
    other,
    ratio,
    met === undefined ? target : `${target} ${met ? "✅" : "❌"}`,
  ]);
}

const fmtNs = (ns: number) => `${ns.toFixed(1)} ns`;
const fmtRate = (perSecond: number) =>
  `${Math.round(perSecond).toLocaleString("en-US")}/s`;
const fmtMs = (ms: number) => `${ms.toFixed(2)} ms`;

// --- Cached getAccessToken() -------------------------------------------------
{
  const providers = await warmProviders();
  const stored: Promise<string> | string = STORED_TOKEN;
  const [bare, memory, file, kv] = await nsPerCall([
    async () => await stored,
    () => providers.memory.getAccessToken(),
    () => providers.file.getAccessToken(),
    () => providers.kv.getAccessToken(),
  ]);
  await providers.dispose();
  row(
    "cached `getAccessToken()`, in-memory cache",
    fmtNs(memory),
    `bare \`await\` of a string: ${fmtNs(bare)}`,
    `${(memory / bare).toFixed(2)}×`,
    "≤ 2×",
    memory <= 2 * bare,
  );
  row(
    "cached `getAccessToken()`, `FileTokenCache`",
    fmtNs(file),
    `in-memory: ${fmtNs(memory)}`,
    `${(file / memory).toFixed(2)}×`,
    "≤ 2× in-memory",
    file <= 2 * memory,
  );
  row(
    "cached `getAccessToken()`, `KvTokenCache` (SQLite)",
    fmtNs(kv),
    `in-memory: ${fmtNs(memory)}`,
    `${(kv / memory).toFixed(2)}×`,
    "≤ 2× in-memory",
    kv <= 2 * memory,
  );
}

// --- Cold concurrency -------------------------------------------------------
{
  const calls = 10_000;
  const ours = await ourColdRequests(calls);
  const official = await officialSdkColdRequests(calls);
  row(
    "10 000 concurrent cold calls → token requests",
    String(ours),
    `\`@spotify/web-api-ts-sdk\` 1.2.0 (\`authenticate()\`): ${official}`,
    `${official / ours}× fewer`,
    "exactly 1",
    ours === 1,
  );
}

// --- Fake accounts server ---------------------------------------------------
{
  const server = new FakeAccountsServer();
  const url = "https://accounts.spotify.com/api/token";
  const init = clientCredentialsInit();
  let grants = 0;
  const durationMs = QUICK ? 300 : 1_000;
  for (let i = 0; i < 5_000; i++) await (await server.fetch(url, init)).text();
  const rates: number[] = [];
  for (let round = 0; round < 3; round++) {
    grants = 0;
    const startedAt = performance.now();
    while (performance.now() - startedAt < durationMs) {
      for (let i = 0; i < 100; i++) {
        await (await server.fetch(url, init)).text();
        grants++;
      }
    }
    rates.push(grants / ((performance.now() - startedAt) / 1000));
  }
  const inProcess = median(rates);
  row(
    "fake server, in-process client-credentials grants",
    fmtRate(inProcess),
    "—",
    "—",
    "≥ 50 000/s",
    inProcess >= 50_000,
  );

  const httpMs = QUICK ? 500 : 2_000;
  const fake = await startFakeServer();
  await grantsPerSecond(fake.url, 200); // warm-up
  const fakeRate = await grantsPerSecond(fake.url, httpMs);
  await fake.stop();
  const mock = await startOauth2MockServer();
  await grantsPerSecond(mock.url, 200);
  const mockRate = await grantsPerSecond(mock.url, httpMs);
  await mock.stop();
  row(
    "loopback HTTP grants, `ClientCredentials` × 8 in parallel",
    fmtRate(fakeRate),
    `\`oauth2-mock-server\` 9.3.0: ${fmtRate(mockRate)}`,
    `${(fakeRate / mockRate).toFixed(1)}× faster`,
    "—",
  );

  const times: number[] = [];
  const cycles = QUICK ? 50 : 200;
  for (let i = 0; i < cycles; i++) {
    const startedAt = performance.now();
    const listening = new FakeAccountsServer();
    await listening.listen();
    await listening.close();
    times.push(performance.now() - startedAt);
  }
  const listenClose = median(times);
  row(
    "fake server `listen()` + `close()`",
    fmtMs(listenClose),
    "—",
    "—",
    "< 5 ms",
    listenClose < 5,
  );
}

// --- Fake accounts server over HTTP against a bare Deno.serve (wrk) ---------
// Both servers run in their own process (bench/_wrk_server.ts) so that wrk
// and the server each get a core; runs alternate so that machine noise hits
// both alike. The bare server returns a fixed token body: the ceiling of any
// server on Deno.serve.
{
  const WRK_SCRIPT = `wrk.method = "POST"
wrk.body = "grant_type=client_credentials"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
wrk.headers["Authorization"] = "Basic ${
    btoa("test-client-id:test-client-secret")
  }"
`;
  let hasWrk = true;
  try {
    await new Deno.Command("wrk", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    hasWrk = false;
  }
  if (!hasWrk) {
    console.error(
      "wrk not found: skipping the fake-vs-bare HTTP comparison (install it, e.g. `apt-get install -y wrk`)",
    );
    row(
      "fake server over HTTP vs bare `Deno.serve`, `wrk -t1 -c16`",
      "skipped: `wrk` not installed",
      "—",
      "—",
      "≥ 50 % of bare",
    );
  } else {
    const script = await Deno.makeTempFile({ suffix: ".lua" });
    await Deno.writeTextFile(script, WRK_SCRIPT);
    const seconds = QUICK ? 2 : 4;
    const requestsPerSecond = async (mode: "fake" | "bare") => {
      const server = new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--allow-net=127.0.0.1",
          new URL("./_wrk_server.ts", import.meta.url).pathname,
          mode,
        ],
        stdin: "piped",
        stdout: "piped",
      }).spawn();
      const lines = server.stdout.pipeThrough(new TextDecoderStream())
        .getReader();
      let printed = "";
      while (!printed.includes("\n")) {
        const { value, done } = await lines.read();
        if (done) throw new Error(`_wrk_server.ts ${mode} exited early`);
        printed += value;
      }
      const port = Number(printed.trim());
      try {
        const { stdout } = await new Deno.Command("wrk", {
          args: [
            "-t1",
            "-c16",
            `-d${seconds}s`,
            "-s",
            script,
            `http://127.0.0.1:${port}/api/token`,
          ],
          stdout: "piped",
        }).output();
        const report = new TextDecoder().decode(stdout);
        if (/Non-2xx|Socket errors/.test(report)) {
          throw new Error(`wrk saw errors against ${mode}:\n${report}`);
        }
        const rate = /Requests\/sec:\s+([\d.]+)/.exec(report)?.[1];
        if (rate === undefined) {
          throw new Error(`unexpected wrk output:\n${report}`);
        }
        return Number(rate);
      } finally {
        await lines.cancel();
        await server.stdin.close();
        await server.status;
      }
    };
    const bare: number[] = [];
    const fake: number[] = [];
    for (let round = 0; round < (QUICK ? 1 : 3); round++) {
      bare.push(await requestsPerSecond("bare"));
      fake.push(await requestsPerSecond("fake"));
    }
    await Deno.remove(script);
    const ratio = median(fake) / median(bare);
    row(
      "fake server over HTTP vs bare `Deno.serve`, `wrk -t1 -c16`, client-credentials grants",
      fmtRate(median(fake)),
      `bare \`Deno.serve\` (fixed token body): ${fmtRate(median(bare))}`,
      `${(ratio * 100).toFixed(0)} %`,
      "≥ 50 % of bare",
      ratio >= 0.5,
    );
  }
}

// --- Import cost ------------------------------------------------------------
{
  const dir = await Deno.makeTempDir({ prefix: "spotify_auth_import_" });
  const modUrl = new URL("../mod.ts", import.meta.url).href;
  await Deno.writeTextFile(`${dir}/empty.ts`, "export {};\n");
  await Deno.writeTextFile(
    `${dir}/import.ts`,
    `import * as auth from ${
      JSON.stringify(modUrl)
    };\nif (!auth.ClientCredentials) throw new Error("missing export");\n`,
  );
  const runOnce = async (script: string) => {
    const startedAt = performance.now();
    const { code, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "--quiet", "--no-config", "--no-lock", script],
      cwd: dir,
      stdout: "null",
      stderr: "piped",
    }).output();
    if (code !== 0) throw new Error(new TextDecoder().decode(stderr));
    return performance.now() - startedAt;
  };
  // Warm Deno's module cache (transpiled sources) first.
  await runOnce(`${dir}/empty.ts`);
  await runOnce(`${dir}/import.ts`);
  const empty: number[] = [];
  const imported: number[] = [];
  const runs = QUICK ? 7 : 21;
  for (let i = 0; i < runs; i++) {
    empty.push(await runOnce(`${dir}/empty.ts`));
    imported.push(await runOnce(`${dir}/import.ts`));
  }
  await Deno.remove(dir, { recursive: true });
  const added = median(imported) - median(empty);
  row(
    '`deno run` of `import "mod.ts"` vs an empty script (medians)',
    fmtMs(median(imported)),
    `empty: ${fmtMs(median(empty))}`,
    `+${fmtMs(added)}`,
    "< 10 ms added",
    added < 10,
  );
}

const header = ["measure", "ours", "baseline / alternative", "ratio", "target"];
const lines = [
  `| ${header.join(" | ")} |`,
  `| ${header.map(() => "---").join(" | ")} |`,
  ...rows.map((cells) => `| ${cells.join(" | ")} |`),
];
console.log(lines.join("\n"));
console.log(
  `\nDeno ${Deno.version.deno}, ${Deno.build.os}/${Deno.build.arch}, ${navigator.hardwareConcurrency} CPUs. Reproduce: \`deno task bench:compare\``,
);
