import assert from "node:assert/strict";
import { FakeTokenCache, type TokenInfo } from "./mod.ts";

const TOKEN: TokenInfo = { accessToken: "a", expiresAt: 100 };
const OTHER: TokenInfo = { accessToken: "b", expiresAt: 200, scope: "" };

Deno.test("FakeTokenCache starts with the given token, not counted in history", () => {
  const cache = new FakeTokenCache({ token: TOKEN });
  assert.equal(cache.get(), TOKEN);
  assert.equal(cache.gets, 1);
  assert.equal(cache.sets, 0);
  assert.deepEqual(cache.history, []);
});

Deno.test("FakeTokenCache counts gets and sets and records every set token", () => {
  const cache = new FakeTokenCache();
  assert.equal(cache.get(), undefined);
  cache.set(TOKEN);
  cache.set(OTHER);
  assert.equal(cache.get(), OTHER);
  assert.equal(cache.token, OTHER);
  assert.equal(cache.gets, 2);
  assert.equal(cache.sets, 2);
  assert.deepEqual(cache.history, [TOKEN, OTHER]);
});

Deno.test("FakeTokenCache with async: true returns promises", async () => {
  const cache = new FakeTokenCache({ async: true });
  const set = cache.set(TOKEN);
  assert.ok(set instanceof Promise);
  await set;
  const got = cache.get();
  assert.ok(got instanceof Promise);
  assert.equal(await got, TOKEN);
});

Deno.test("FakeTokenCache.failNextGet() makes the next get throw, once", () => {
  const cache = new FakeTokenCache({ token: TOKEN });
  const error = new Error("get failed");
  cache.failNextGet(error);
  assert.throws(() => cache.get(), (thrown) => thrown === error);
  assert.equal(cache.get(), TOKEN);
  assert.equal(cache.gets, 2);
});

Deno.test("FakeTokenCache.failNextSet() makes the next set reject and keeps the token", async () => {
  const cache = new FakeTokenCache({ token: TOKEN, async: true });
  const error = new Error("set failed");
  cache.failNextSet(error);
  await assert.rejects(
    Promise.resolve(cache.set(OTHER)),
    (thrown) => thrown === error,
  );
  assert.equal(await cache.get(), TOKEN);
  assert.deepEqual(cache.history, []);
  assert.equal(cache.sets, 1);
  await cache.set(OTHER);
  assert.deepEqual(cache.history, [OTHER]);
});

Deno.test("FakeTokenCache.failNextGet() rejects when async", async () => {
  const cache = new FakeTokenCache({ async: true });
  cache.failNextGet(new Error("boom"));
  await assert.rejects(Promise.resolve(cache.get()), /boom/);
});

Deno.test("FakeTokenCache.delete() removes the token and counts deletes", async () => {
  const token = { accessToken: "a", expiresAt: 1, refreshToken: "r" };
  const cache = new FakeTokenCache({ token });
  cache.delete();
  assert.equal(cache.token, undefined);
  assert.equal(cache.get(), undefined);
  assert.equal(cache.deletes, 1);
  const async = new FakeTokenCache({ token, async: true });
  await async.delete();
  assert.equal(await async.get(), undefined);
  assert.equal(async.deletes, 1);
});
