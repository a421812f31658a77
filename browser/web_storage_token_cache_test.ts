import assert from "node:assert/strict";
import { WebStorageTokenCache } from "./mod.ts";
import {
  MemoryLocks,
  MemoryStorage,
  newAuth,
  newServer,
} from "./_test_helpers.ts";

const TOKEN = {
  accessToken: "access-1",
  expiresAt: 1_900_000_000.5,
  refreshToken: "refresh-1",
  scope: "user-read-private",
  authorizedAt: 1_800_000_000,
};

Deno.test("WebStorageTokenCache.get() of an empty storage is undefined", () => {
  const cache = new WebStorageTokenCache({ storage: new MemoryStorage() });
  assert.equal(cache.get(), undefined);
});

Deno.test("WebStorageTokenCache.set() writes the file format's JSON under spotify-sdk:token", () => {
  const storage = new MemoryStorage();
  new WebStorageTokenCache({ storage }).set({
    accessToken: "access-1",
    expiresAt: 1_900_000_000,
  });
  assert.deepEqual(JSON.parse(storage.getItem("spotify-sdk:token")!), {
    access_token: "access-1",
    expires_at: 1_900_000_000,
    refresh_token: null,
    scope: null,
    authorized_at: null,
  });
});

Deno.test("WebStorageTokenCache.get() reads back every field set() stored", () => {
  const cache = new WebStorageTokenCache({ storage: new MemoryStorage() });
  cache.set(TOKEN);
  assert.deepEqual(cache.get(), TOKEN);
});

Deno.test("WebStorageTokenCache uses the given key", () => {
  const storage = new MemoryStorage();
  new WebStorageTokenCache({ storage, key: "my-app:token" }).set(TOKEN);
  assert.deepEqual([...storage.items.keys()], ["my-app:token"]);
});

Deno.test("WebStorageTokenCache.get() reads corrupt or wrongly typed values as a miss", () => {
  const storage = new MemoryStorage();
  const cache = new WebStorageTokenCache({ storage });
  for (
    const value of [
      "{not json",
      "null",
      "[]",
      '"access"',
      JSON.stringify({ access_token: "", expires_at: 1 }),
      JSON.stringify({ access_token: "a", expires_at: "1" }),
    ]
  ) {
    storage.setItem("spotify-sdk:token", value);
    assert.equal(cache.get(), undefined, value);
  }
});

Deno.test("WebStorageTokenCache.delete() removes the token, and removing nothing is fine", () => {
  const storage = new MemoryStorage();
  const cache = new WebStorageTokenCache({ storage });
  cache.set(TOKEN);
  cache.delete();
  cache.delete();
  assert.equal(cache.get(), undefined);
  assert.equal(storage.items.size, 0);
});

Deno.test("WebStorageTokenCache.set() rejects a token that could not be read back, storing nothing", () => {
  const storage = new MemoryStorage();
  const cache = new WebStorageTokenCache({ storage });
  assert.throws(
    () => cache.set({ accessToken: "", expiresAt: 1 }),
    TypeError,
  );
  assert.equal(storage.items.size, 0);
});

Deno.test("WebStorageTokenCache.lock() holds the Web Lock named key + ':lock' while fn runs", async () => {
  const locks = new MemoryLocks();
  const cache = new WebStorageTokenCache({
    storage: new MemoryStorage(),
    locks,
  });
  assert.equal(await cache.lock(() => Promise.resolve(42)), 42);
  assert.deepEqual(locks.requests, [{ name: "spotify-sdk:token:lock" }]);
});

Deno.test("WebStorageTokenCache.lock() hands the provider's abort signal to the lock request", async () => {
  const locks = new MemoryLocks();
  const cache = new WebStorageTokenCache({
    storage: new MemoryStorage(),
    locks,
  });
  const signal = new AbortController().signal;
  await cache.lock(() => Promise.resolve(), { signal });
  assert.equal(locks.requests[0].signal, signal);
});

Deno.test("WebStorageTokenCache.lock() runs fn directly when locks is null", async () => {
  const cache = new WebStorageTokenCache({
    storage: new MemoryStorage(),
    locks: null,
  });
  assert.equal(await cache.lock(() => Promise.resolve("ran")), "ran");
});

Deno.test("WebStorageTokenCache rejects an empty key", () => {
  assert.throws(
    () => new WebStorageTokenCache({ storage: new MemoryStorage(), key: "" }),
    TypeError,
  );
});

Deno.test("WebStorageTokenCache works over Deno's own localStorage", () => {
  const cache = new WebStorageTokenCache({
    key: "spotify-sdk:web-storage-token-cache-test",
  });
  try {
    cache.set(TOKEN);
    assert.deepEqual(cache.get(), TOKEN);
  } finally {
    cache.delete();
  }
  assert.equal(cache.get(), undefined);
});

Deno.test("two providers sharing a WebStorageTokenCache refresh an expired token once", async () => {
  const server = newServer();
  const storage = new MemoryStorage();
  const locks = new MemoryLocks();
  const issued = server.issueTokens({ clientId: "spa-client-id" });
  const first = newAuth(server, new WebStorageTokenCache({ storage, locks }));
  const second = newAuth(server, new WebStorageTokenCache({ storage, locks }));
  new WebStorageTokenCache({ storage }).set({ ...issued, expiresAt: 0 });
  try {
    const [a, b] = await Promise.all([
      first.getAccessToken(),
      second.getAccessToken(),
    ]);
    assert.equal(a, b);
    assert.notEqual(a, issued.accessToken);
    assert.equal(server.tokenRequestCount, 1);
  } finally {
    await first.close();
    await second.close();
  }
});
