// One process of the shared-cache stress test (see token_cache_stress_test.ts).
// Usage: deno run … _token_cache_worker.ts '<json WorkerConfig>'
// Prints one JSON line of WorkerReport on stdout, or "locked" (hog mode).
import { AuthorizationCode } from "../../auth/authorization_code.ts";
import { FileTokenCache } from "../../auth/file_token_cache.ts";
import { KvTokenCache } from "../../auth/kv_token_cache.ts";
import { SpotifyAuthError } from "../../auth/errors.ts";
import type { TokenCache } from "../../auth/token.ts";

export interface WorkerConfig {
  store: "file" | "kv";
  path: string;
  accountsUrl: string;
  durationMs: number;
  staleMs: number;
  /** "work": getAccessToken() cycles; "hog": take the lock and never let go. */
  mode: "work" | "hog";
}

export interface WorkerReport {
  cycles: number;
  errors: Record<string, number>;
  corruptReads: number;
  distinctTokens: number;
}

const config: WorkerConfig = JSON.parse(Deno.args[0]);
using kv = config.store === "kv" ? await Deno.openKv(config.path) : undefined;
const cache: TokenCache & { lock<T>(fn: () => Promise<T>): Promise<T> } =
  kv === undefined
    ? new FileTokenCache({ path: config.path, staleLockMs: config.staleMs })
    : new KvTokenCache({ kv, leaseMs: config.staleMs });

if (config.mode === "hog") {
  await cache.lock(async () => {
    console.log("locked");
    await new Promise(() => {}); // until SIGKILL
  });
}

/** Reads the store raw and says whether it held a well-formed token. */
async function readsWellFormed(): Promise<boolean> {
  if (kv !== undefined) {
    const value = (await kv.get(["spotify_sdk", "token"])).value as
      | Record<string, unknown>
      | null;
    return typeof value?.accessToken === "string" &&
      typeof value.expiresAt === "number";
  }
  try {
    const value = JSON.parse(await Deno.readTextFile(config.path));
    return typeof value.access_token === "string" &&
      typeof value.expires_at === "number";
  } catch {
    return false;
  }
}

await using auth = new AuthorizationCode({
  clientId: "test-client-id",
  clientSecret: "test-client-secret",
  redirectUri: "http://127.0.0.1/callback",
  accountsUrl: config.accountsUrl,
  tokenCache: cache,
  skewSeconds: 0,
  retryDelayMs: 50,
});

const report: WorkerReport = {
  cycles: 0,
  errors: {},
  corruptReads: 0,
  distinctTokens: 0,
};
const tokens = new Set<string>();
const deadline = Date.now() + config.durationMs;
while (Date.now() < deadline) {
  try {
    tokens.add(await auth.getAccessToken());
  } catch (error) {
    const code = error instanceof SpotifyAuthError
      ? error.code
      : error instanceof Error
      ? error.name
      : "unknown";
    report.errors[code] = (report.errors[code] ?? 0) + 1;
  }
  if (!await readsWellFormed()) report.corruptReads++;
  report.cycles++;
  await new Promise((resolve) => setTimeout(resolve, 5));
}
report.distinctTokens = tokens.size;
console.log(JSON.stringify(report));
