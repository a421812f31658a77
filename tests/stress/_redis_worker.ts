// One process of the Redis stress test (see redis_token_cache_stress_test.ts),
// with its own Redis connection.
// Usage: deno run … _redis_worker.ts '<json RedisWorkerConfig>'
//
// Modes:
// - "work": getAccessToken() cycles for durationMs, then one JSON
//   RedisWorkerReport line on stdout.
// - "hog": takes the lock, prints "locked", and holds it until SIGKILL.
// - "until-lost": cycles until the authorization is lost, checks that the
//   next calls fail the same way, prints "lost"; then follows commands on
//   stdin: "sign-in" (sign the user in again, print "signed-in") and "go"
//   (one more getAccessToken(), then the report).
import { AuthorizationCode } from "../../auth/authorization_code.ts";
import { RedisTokenCache } from "../../auth/redis_token_cache.ts";
import { SpotifyAuthError } from "../../auth/errors.ts";
import { connectRedis, type RedisClientKind } from "../_redis_clients.ts";

export interface RedisWorkerConfig {
  port: number;
  client: RedisClientKind;
  key: string;
  accountsUrl: string;
  durationMs: number;
  leaseMs: number;
  mode: "work" | "hog" | "until-lost";
}

export interface RedisWorkerReport {
  cycles: number;
  /** Error codes (or names) of failed getAccessToken() calls, counted. */
  errors: Record<string, number>;
  distinctTokens: number;
  /** until-lost: calls after the first authorization_required, and how
   * each ended. */
  afterLost?: string[];
  /** until-lost: the call after "go" returned a token. */
  worksAfterSignIn?: boolean;
}

const REDIRECT_URI = "http://127.0.0.1/callback";
const CALLS_AFTER_LOST = 3;

const config: RedisWorkerConfig = JSON.parse(Deno.args[0]);
await using client = await connectRedis(config.client, config.port);
const cache = new RedisTokenCache({
  redis: client.redis,
  key: config.key,
  leaseMs: config.leaseMs,
});

if (config.mode === "hog") {
  await cache.lock(async () => {
    console.log("locked");
    await new Promise(() => {}); // until SIGKILL
  });
}

await using auth = new AuthorizationCode({
  clientId: "test-client-id",
  clientSecret: "test-client-secret",
  redirectUri: REDIRECT_URI,
  accountsUrl: config.accountsUrl,
  tokenCache: cache,
  skewSeconds: 0,
  retryDelayMs: 50,
});

const report: RedisWorkerReport = { cycles: 0, errors: {}, distinctTokens: 0 };
const tokens = new Set<string>();

/** One getAccessToken(): the token, or the error's code. */
async function cycle(): Promise<{ token?: string; code?: string }> {
  report.cycles++;
  try {
    const token = await auth.getAccessToken();
    tokens.add(token);
    return { token };
  } catch (error) {
    const code = error instanceof SpotifyAuthError
      ? error.code
      : error instanceof Error
      ? `${error.name}: ${error.message}`
      : "unknown";
    report.errors[code] = (report.errors[code] ?? 0) + 1;
    return { code };
  }
}

function pause(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 5));
}

if (config.mode === "work") {
  const deadline = Date.now() + config.durationMs;
  while (Date.now() < deadline) {
    await cycle();
    await pause();
  }
} else {
  const deadline = Date.now() + config.durationMs;
  let lost = false;
  while (!lost && Date.now() < deadline) {
    lost = (await cycle()).code === "authorization_required";
    await pause();
  }
  report.afterLost = [];
  for (let i = 0; lost && i < CALLS_AFTER_LOST; i++) {
    report.afterLost.push((await cycle()).code ?? "token");
  }
  console.log(lost ? "lost" : "never lost");
  for await (const command of lines(Deno.stdin.readable)) {
    if (command === "sign-in") {
      await signIn();
      console.log("signed-in");
    } else if (command === "go") {
      report.worksAfterSignIn = (await cycle()).token !== undefined;
      break;
    }
  }
}
report.distinctTokens = tokens.size;
console.log(JSON.stringify(report));

/** The user signs in again through the fake's consent redirect. */
async function signIn(): Promise<void> {
  const url = await auth.getAuthorizationUrl({ scope: "user-read-private" });
  const consent = await fetch(url, { redirect: "manual" });
  await consent.body?.cancel();
  const callback = consent.headers.get("location");
  if (callback === null) throw new Error(`no redirect: ${consent.status}`);
  await auth.exchangeCode(auth.parseResponseUrl(callback));
}

async function* lines(
  stream: ReadableStream<Uint8Array>,
): AsyncGenerator<string> {
  let buffered = "";
  for await (const text of stream.pipeThrough(new TextDecoderStream())) {
    buffered += text;
    let newline: number;
    while ((newline = buffered.indexOf("\n")) >= 0) {
      yield buffered.slice(0, newline).trim();
      buffered = buffered.slice(newline + 1);
    }
  }
}
