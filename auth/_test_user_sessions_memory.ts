// The memory half of user_sessions_bench.ts, run as its own process (with
// --v8-flags=--expose-gc) so that neither the fake accounts service nor the
// sign-ins' garbage is counted: opens the bench's KV file, touches every
// session once with a fresh UserSessions, and prints what the process holds
// as JSON.
//   deno run --v8-flags=--expose-gc --allow-read --allow-write --allow-env \
//     --unstable-kv auth/_test_user_sessions_memory.ts <kv file> <maxCachedSessions>

import { REDIRECT_URI } from "./_test_user_sessions.ts";
import { UserSessions } from "./user_sessions.ts";

const [path, max] = Deno.args;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

using kv = await Deno.openKv(path);
const cookies: string[] = [];
for await (const entry of kv.list({ prefix: ["spotify-sdk", "session"] })) {
  cookies.push(`spotify_session=${String(entry.key.at(-1))}`);
}

gc();
const before = Deno.memoryUsage();
await using sessions = new UserSessions({
  kv,
  clientId: "test-client-id",
  clientSecret: "test-client-secret",
  redirectUri: REDIRECT_URI,
  maxCachedSessions: Number(max),
  // Every token is fresh: touching a session must not need the network.
  fetch: () => Promise.reject(new Error("no token request expected")),
});
const started = performance.now();
for (const cookie of cookies) {
  await sessions.getAccessToken(
    new Request("http://127.0.0.1:8000/", { headers: { cookie } }),
  );
}
const seconds = (performance.now() - started) / 1000;
gc();
const after = Deno.memoryUsage();
console.log(JSON.stringify({
  sessions: cookies.length,
  touchesPerSecond: cookies.length / seconds,
  rss: after.rss,
  heapUsed: after.heapUsed,
  heapGrowth: after.heapUsed - before.heapUsed,
}));
