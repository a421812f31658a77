// Cached AuthorizationCode.getAccessToken() against the cost floor, and the
// same over the caches that share a user token across processes: the 0.2
// lifecycle (dead refresh tokens, sign-out) must not slow the hot path.
//   deno bench --unstable-kv --allow-read --allow-write auth/authorization_code_bench.ts
import { AuthorizationCode, InMemoryTokenCache, KvTokenCache } from "../mod.ts";

const farFuture = Date.now() / 1000 + 86_400;
const token = {
  accessToken: "bench-token",
  expiresAt: farFuture,
  refreshToken: "bench-refresh",
  authorizedAt: Date.now() / 1000,
};
const options = {
  clientId: "bench-client",
  clientSecret: "bench-secret",
  redirectUri: "http://127.0.0.1:8080/callback",
  fetch: () => Promise.reject(new Error("no request expected")),
};
const inMemory = new AuthorizationCode({
  ...options,
  tokenCache: new InMemoryTokenCache(token),
});
await inMemory.getAccessToken();
const kv = await Deno.openKv(":memory:");
const kvCache = new KvTokenCache({ kv, key: ["bench"] });
await kvCache.set(token);
const overKv = new AuthorizationCode({ ...options, tokenCache: kvCache });
await overKv.getAccessToken();
const stored: string = "bench-token";

Deno.bench("await a stored string (baseline)", {
  group: "cached user token",
  baseline: true,
}, async () => {
  await stored;
});

Deno.bench("AuthorizationCode.getAccessToken() cached, in-memory cache", {
  group: "cached user token",
}, async () => {
  await inMemory.getAccessToken();
});

Deno.bench("AuthorizationCode.getAccessToken() cached, KvTokenCache", {
  group: "cached user token",
}, async () => {
  await overKv.getAccessToken();
});
