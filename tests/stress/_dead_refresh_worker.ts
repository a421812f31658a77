// One process of the dead-refresh-token fleet test (see
// dead_refresh_token_stress_test.ts). Usage:
//   deno run … _dead_refresh_worker.ts '<json DeadRefreshWorkerConfig>'
// Calls getAccessToken() until the user's authorization is lost, keeps
// calling a little longer (those calls must send nothing), prints one JSON
// line {"phase":"lost",…}, waits for a line on stdin (another process has
// signed the user in again), calls once more and prints {"phase":"again",…}.
import { AuthorizationCode } from "../../auth/authorization_code.ts";
import { FileTokenCache } from "../../auth/file_token_cache.ts";
import { KvTokenCache } from "../../auth/kv_token_cache.ts";
import { SpotifyAuthError } from "../../auth/errors.ts";
import type { TokenCache } from "../../auth/token.ts";

export interface DeadRefreshWorkerConfig {
  store: "file" | "kv";
  path: string;
  accountsUrl: string;
  /** Give up waiting for the loss after this long. */
  durationMs: number;
  /** Calls made after the loss, each must reject without a request. */
  callsAfterLoss: number;
}

export interface LostReport {
  phase: "lost";
  okCalls: number;
  /** authorization_required rejections, the first one included. */
  authorizationRequired: number;
  lostCallbacks: number;
  errors: Record<string, number>;
}

export interface AgainReport {
  phase: "again";
  ok: boolean;
  error?: string;
}

const config: DeadRefreshWorkerConfig = JSON.parse(Deno.args[0]);
using kv = config.store === "kv" ? await Deno.openKv(config.path) : undefined;
const cache: TokenCache = kv === undefined
  ? new FileTokenCache({ path: config.path })
  : new KvTokenCache({ kv });

const report: LostReport = {
  phase: "lost",
  okCalls: 0,
  authorizationRequired: 0,
  lostCallbacks: 0,
  errors: {},
};
await using auth = new AuthorizationCode({
  clientId: "test-client-id",
  clientSecret: "test-client-secret",
  redirectUri: "http://127.0.0.1/callback",
  accountsUrl: config.accountsUrl,
  tokenCache: cache,
  skewSeconds: 0,
  retryDelayMs: 50,
  onAuthorizationLost: () => {
    report.lostCallbacks++;
  },
});

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const deadline = Date.now() + config.durationMs;
while (
  report.authorizationRequired < 1 + config.callsAfterLoss &&
  Date.now() < deadline
) {
  try {
    await auth.getAccessToken();
    report.okCalls++;
  } catch (error) {
    const code = error instanceof SpotifyAuthError ? error.code : String(error);
    if (code === "authorization_required") report.authorizationRequired++;
    else report.errors[code] = (report.errors[code] ?? 0) + 1;
  }
  await pause(10);
}
console.log(JSON.stringify(report));

// Wait for the test to say the user signed in again.
const reader = Deno.stdin.readable.getReader();
await reader.read();
reader.releaseLock();
let again: AgainReport;
try {
  await auth.getAccessToken();
  again = { phase: "again", ok: true };
} catch (error) {
  again = {
    phase: "again",
    ok: false,
    error: error instanceof SpotifyAuthError ? error.code : String(error),
  };
}
console.log(JSON.stringify(again));
