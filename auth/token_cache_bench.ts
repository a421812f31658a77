import { FileTokenCache } from "./file_token_cache.ts";
import { KvTokenCache } from "./kv_token_cache.ts";
import type { TokenInfo } from "./token.ts";

const token: TokenInfo = {
  accessToken: "BQD".padEnd(300, "x"),
  expiresAt: Date.now() / 1000 + 3600,
  refreshToken: "AQB".padEnd(130, "y"),
  scope: "user-read-private playlist-read-private user-read-email",
};

const dir = await Deno.makeTempDir({ prefix: "token_cache_bench_" });
const fileCache = new FileTokenCache({ path: `${dir}/token.json` });
await fileCache.set(token);
const memoryKv = await Deno.openKv(":memory:");
const memoryKvCache = new KvTokenCache({ kv: memoryKv });
await memoryKvCache.set(token);
const sqliteKv = await Deno.openKv(`${dir}/kv.sqlite`);
const sqliteKvCache = new KvTokenCache({ kv: sqliteKv });
await sqliteKvCache.set(token);

globalThis.addEventListener("unload", () => {
  memoryKv.close();
  sqliteKv.close();
  Deno.removeSync(dir, { recursive: true });
});

Deno.bench(
  "FileTokenCache.get()",
  { group: "get", baseline: true },
  async () => {
    await fileCache.get();
  },
);

Deno.bench("KvTokenCache.get() on :memory:", { group: "get" }, async () => {
  await memoryKvCache.get();
});

Deno.bench(
  "KvTokenCache.get() on a SQLite file",
  { group: "get" },
  async () => {
    await sqliteKvCache.get();
  },
);

Deno.bench("FileTokenCache.set() (temp file, fsync, rename)", {
  group: "set",
  baseline: true,
}, async () => {
  await fileCache.set(token);
});

Deno.bench(
  "KvTokenCache.set() on a SQLite file",
  { group: "set" },
  async () => {
    await sqliteKvCache.set(token);
  },
);

Deno.bench("FileTokenCache.lock() uncontended", {
  group: "lock",
  baseline: true,
}, async () => {
  await fileCache.lock(() => Promise.resolve());
});

Deno.bench("KvTokenCache.lock() uncontended on a SQLite file", {
  group: "lock",
}, async () => {
  await sqliteKvCache.lock(() => Promise.resolve());
});
