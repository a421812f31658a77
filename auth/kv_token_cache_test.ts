import assert from "node:assert/strict";
import {
  type KvAtomicOperationLike,
  type KvKeyLike,
  type KvLike,
  KvTokenCache,
} from "./kv_token_cache.ts";
import { SpotifyAuthError } from "./errors.ts";
import type { TokenInfo } from "./token.ts";

const MODULE_URL = import.meta.resolve("./kv_token_cache.ts");
const KEY = ["test", "token"];

const USER_TOKEN: TokenInfo = {
  accessToken: "access-secret-123",
  expiresAt: 1_700_000_000.5,
  refreshToken: "refresh-secret-456",
  scope: "user-read-private",
};
const APP_TOKEN: TokenInfo = { accessToken: "app-secret", expiresAt: 1 };

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "kv_token_cache_test_" });
  return {
    path,
    [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }),
  };
}

class ManualClock {
  constructor(public ms: number) {}
  now(): number {
    return this.ms;
  }
}

/** Wraps a KV and throws `database is locked` on the next `failures` calls. */
class BusyKv implements KvLike {
  calls = 0;
  constructor(readonly inner: KvLike, public failures: number) {}
  #maybeFail(): void {
    this.calls++;
    if (this.failures > 0) {
      this.failures--;
      throw new TypeError("database is locked");
    }
  }
  get(key: KvKeyLike) {
    return Promise.resolve().then(() => {
      this.#maybeFail();
      return this.inner.get(key);
    });
  }
  set(key: KvKeyLike, value: unknown, options?: { expireIn?: number }) {
    return Promise.resolve().then(() => {
      this.#maybeFail();
      return this.inner.set(key, value, options);
    });
  }
  delete(key: KvKeyLike) {
    return this.inner.delete(key);
  }
  atomic(): KvAtomicOperationLike {
    const operation = this.inner.atomic();
    const commit = operation.commit.bind(operation);
    operation.commit = () =>
      Promise.resolve().then(() => {
        this.#maybeFail();
        return commit();
      });
    return operation;
  }
}

Deno.test("KvTokenCache.get() reads back what set() stored in an in-memory KV", async () => {
  using kv = await Deno.openKv(":memory:");
  const cache = new KvTokenCache({ kv, key: KEY });
  assert.equal(await cache.get(), undefined);
  await cache.set(USER_TOKEN);
  assert.deepEqual(await cache.get(), USER_TOKEN);
  await cache.set(APP_TOKEN);
  const token = await cache.get();
  assert.deepEqual(token, APP_TOKEN);
  assert.ok(token !== undefined && !("refreshToken" in token));
  assert.deepEqual((await kv.get(KEY)).value, APP_TOKEN);
});

Deno.test("KvTokenCache shares a token through a SQLite KV file", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/kv.sqlite`;
  {
    using kv = await Deno.openKv(path);
    await new KvTokenCache({ kv, key: KEY }).set(USER_TOKEN);
  }
  using kv = await Deno.openKv(path);
  assert.deepEqual(await new KvTokenCache({ kv, key: KEY }).get(), USER_TOKEN);
  assert.equal(await new KvTokenCache({ kv }).get(), undefined);
});

Deno.test("KvTokenCache.get() returns undefined for values that are not tokens", async () => {
  using kv = await Deno.openKv(":memory:");
  const cache = new KvTokenCache({ kv, key: KEY });
  for (
    const value of [
      "token",
      42,
      null,
      [USER_TOKEN],
      { expiresAt: 1 },
      { accessToken: "", expiresAt: 1 },
      { accessToken: "a", expiresAt: "1" },
      { accessToken: "a", expiresAt: Infinity },
      { access_token: "a", expires_at: 1 },
    ]
  ) {
    await kv.set(KEY, value);
    assert.equal(await cache.get(), undefined, JSON.stringify(value));
  }
  await kv.set(KEY, {
    accessToken: "a",
    expiresAt: 2,
    refreshToken: 5,
    scope: null,
    extra: true,
  });
  assert.deepEqual(await cache.get(), { accessToken: "a", expiresAt: 2 });
});

Deno.test("KvTokenCache.set() rejects a malformed token with a TypeError", async () => {
  using kv = await Deno.openKv(":memory:");
  const cache = new KvTokenCache({ kv, key: KEY });
  await assert.rejects(
    () => cache.set({ accessToken: "", expiresAt: 1 }),
    TypeError,
  );
  assert.equal((await kv.get(KEY)).value, null);
});

Deno.test("KvTokenCache rejects bad options", async () => {
  using kv = await Deno.openKv(":memory:");
  assert.throws(
    () => new KvTokenCache({} as unknown as { kv: KvLike }),
    TypeError,
  );
  assert.throws(() => new KvTokenCache({ kv, key: [] }), TypeError);
  assert.throws(() => new KvTokenCache({ kv, leaseMs: 0 }), RangeError);
  assert.throws(
    () => new KvTokenCache({ kv, lockTimeoutMs: Number.NaN }),
    RangeError,
  );
});

Deno.test("KvTokenCache retries 'database is locked' in get(), set() and lock()", async () => {
  using kv = await Deno.openKv(":memory:");
  const busy = new BusyKv(kv, 3);
  const cache = new KvTokenCache({ kv: busy, key: KEY });
  await cache.set(USER_TOKEN);
  busy.failures = 3;
  assert.deepEqual(await cache.get(), USER_TOKEN);
  busy.failures = 4;
  assert.equal(await cache.lock(() => Promise.resolve("locked")), "locked");
  assert.equal((await kv.get([...KEY, "lock"])).value, null);
});

Deno.test("KvTokenCache gives up on 'database is locked' after bounded retries", async () => {
  using kv = await Deno.openKv(":memory:");
  const busy = new BusyKv(kv, 1_000);
  const cache = new KvTokenCache({ kv: busy, key: KEY });
  await assert.rejects(
    () => cache.get(),
    (error: Error) => {
      assert.match(error.message, /database is locked/);
      assert.match(error.message, /"test", "token"/);
      return true;
    },
  );
  assert.ok(busy.calls > 1 && busy.calls < 50);
});

Deno.test("KvTokenCache does not retry other store errors", async () => {
  using kv = await Deno.openKv(":memory:");
  let calls = 0;
  const broken: KvLike = {
    get: () => {
      calls++;
      return Promise.reject(new TypeError("Key too large"));
    },
    set: (key, value) => kv.set(key, value),
    delete: (key) => kv.delete(key),
    atomic: () => kv.atomic(),
  };
  await assert.rejects(() => new KvTokenCache({ kv: broken }).get(), {
    message: "Key too large",
  });
  assert.equal(calls, 1);
});

async function exclusiveSection(
  cache: KvTokenCache,
  state: { active: number; max: number; entered: number },
): Promise<void> {
  await cache.lock(async () => {
    state.active++;
    state.entered++;
    state.max = Math.max(state.max, state.active);
    await new Promise((resolve) => setTimeout(resolve, 1));
    state.active--;
  });
}

Deno.test("KvTokenCache.lock() admits one caller at a time", async () => {
  using kv = await Deno.openKv(":memory:");
  const state = { active: 0, max: 0, entered: 0 };
  const caches = [
    new KvTokenCache({ kv, key: KEY }),
    new KvTokenCache({ kv, key: KEY }),
  ];
  await Promise.all(
    Array.from(
      { length: 30 },
      (_, i) => exclusiveSection(caches[i % 2], state),
    ),
  );
  assert.equal(state.entered, 30);
  assert.equal(state.max, 1);
  assert.equal((await kv.get([...KEY, "lock"])).value, null);
});

Deno.test("KvTokenCache.lock() admits one process at a time on a shared SQLite file", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/kv.sqlite`;
  {
    using kv = await Deno.openKv(path);
    await kv.set(["counter"], 0);
  }
  const script = `${tmp.path}/worker.ts`;
  await Deno.writeTextFile(
    script,
    `import { KvTokenCache } from ${JSON.stringify(MODULE_URL)};
using kv = await Deno.openKv(Deno.args[0]);
const cache = new KvTokenCache({ kv, key: ["test", "token"] });
for (let i = 0; i < 20; i++) {
  await cache.lock(async () => {
    // Plain get-then-set: only the lease keeps increments from being lost.
    const value = (await kv.get(["counter"])).value;
    await new Promise((resolve) => setTimeout(resolve, 0));
    await kv.set(["counter"], value + 1);
  });
}`,
  );
  const outputs = await Promise.all(
    Array.from({ length: 4 }, () =>
      new Deno.Command(Deno.execPath(), {
        args: [
          "run",
          "--quiet",
          "--no-prompt",
          "--unstable-kv",
          "--allow-read",
          "--allow-write",
          script,
          path,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output()),
  );
  for (const output of outputs) {
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
  }
  using kv = await Deno.openKv(path);
  assert.equal((await kv.get(["counter"])).value, 80);
});

Deno.test("KvTokenCache.lock() releases the lease when fn throws", async () => {
  using kv = await Deno.openKv(":memory:");
  const cache = new KvTokenCache({ kv, key: KEY, lockTimeoutMs: 1_000 });
  await assert.rejects(
    () => cache.lock(() => Promise.reject(new Error("boom"))),
    { message: "boom" },
  );
  assert.equal((await kv.get([...KEY, "lock"])).value, null);
  assert.equal(await cache.lock(() => Promise.resolve(1)), 1);
});

Deno.test("KvTokenCache.lock() times out while a live lease is held, then takes it over once expired", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(1_000_000);
  await kv.set([...KEY, "lock"], { owner: "crashed", expiresAt: 1_010_000 });
  const cache = new KvTokenCache({
    kv,
    key: KEY,
    clock,
    leaseMs: 10_000,
    lockTimeoutMs: 50,
  });
  await assert.rejects(
    () => cache.lock(() => Promise.resolve()),
    (error: unknown) =>
      error instanceof SpotifyAuthError && error.code === "timeout" &&
      error.message.includes('["test", "token", "lock"]'),
  );
  clock.ms = 1_010_001;
  assert.equal(await cache.lock(() => Promise.resolve("taken")), "taken");
  assert.equal((await kv.get([...KEY, "lock"])).value, null);
});

Deno.test("KvTokenCache.lock() takes over a malformed lease value", async () => {
  using kv = await Deno.openKv(":memory:");
  await kv.set([...KEY, "lock"], "garbage");
  const cache = new KvTokenCache({ kv, key: KEY, lockTimeoutMs: 1_000 });
  assert.equal(await cache.lock(() => Promise.resolve(2)), 2);
});

Deno.test("KvTokenCache.lock() does not release a lease that another owner took over", async () => {
  using kv = await Deno.openKv(":memory:");
  const clock = new ManualClock(0);
  const cache = new KvTokenCache({ kv, key: KEY, clock, leaseMs: 100_000 });
  const other = { owner: "someone-else", expiresAt: 500_000 };
  await cache.lock(async () => {
    // Our lease lapsed (as if we froze) and another process took it.
    clock.ms = 200_000;
    await kv.set([...KEY, "lock"], other);
  });
  assert.deepEqual((await kv.get([...KEY, "lock"])).value, other);
});

Deno.test("KvTokenCache.lock() renews the lease while fn outlasts it", async () => {
  using kv = await Deno.openKv(":memory:");
  const state = { active: 0, max: 0, entered: 0 };
  const cache = new KvTokenCache({ kv, key: KEY, leaseMs: 60 });
  const other = new KvTokenCache({ kv, key: KEY, leaseMs: 60 });
  let entered = () => {};
  const inside = new Promise<void>((resolve) => (entered = resolve));
  const holding = cache.lock(async () => {
    state.active++;
    state.entered++;
    entered();
    // Several lease lengths while another caller waits for the lease.
    await new Promise((resolve) => setTimeout(resolve, 300));
    state.max = Math.max(state.max, state.active);
    state.active--;
  });
  // The waiter starts only once the holder is inside, so it can only get in
  // early if the lease was not renewed.
  await inside;
  await Promise.all([holding, exclusiveSection(other, state)]);
  assert.equal(state.entered, 2);
  assert.equal(state.max, 1);
});

Deno.test("KvTokenCache.delete() removes the token, and a missing one is fine", async () => {
  using kv = await Deno.openKv(":memory:");
  const cache = new KvTokenCache({ kv, key: KEY });
  await cache.delete();
  await cache.set(USER_TOKEN);
  await cache.delete();
  assert.equal(await cache.get(), undefined);
  assert.equal((await kv.get(KEY)).value, null);
});

Deno.test("KvTokenCache keeps authorizedAt", async () => {
  using kv = await Deno.openKv(":memory:");
  const cache = new KvTokenCache({ kv, key: KEY });
  const token = { ...USER_TOKEN, authorizedAt: 1_690_000_000.25 };
  await cache.set(token);
  assert.deepEqual(await cache.get(), token);
  await kv.set(KEY, { ...token, authorizedAt: "yesterday" });
  assert.deepEqual(await cache.get(), USER_TOKEN, "a wrong type is dropped");
});

Deno.test("KvTokenCache.lock() stops waiting when its signal aborts", async () => {
  using kv = await Deno.openKv(":memory:");
  const holder = new KvTokenCache({ kv, key: KEY });
  const waiter = new KvTokenCache({ kv, key: KEY, lockTimeoutMs: 60_000 });
  let release = () => {};
  const held = new Promise<void>((resolve) => (release = resolve));
  let entered = () => {};
  const inside = new Promise<void>((resolve) => (entered = resolve));
  const holding = holder.lock(async () => {
    entered();
    await held;
  });
  await inside;
  const controller = new AbortController();
  let ran = false;
  const waiting = waiter.lock(() => {
    ran = true;
    return Promise.resolve();
  }, { signal: controller.signal });
  const reason = new Error("provider closed");
  controller.abort(reason);
  await assert.rejects(waiting, (error) => error === reason);
  assert.equal(ran, false);
  release();
  await holding;
});

Deno.test("KvTokenCache.lock() gives back a lease taken just as its signal aborted, without running fn", async () => {
  using denoKv = await Deno.openKv(":memory:");
  const controller = new AbortController();
  const reason = new Error("provider closed");
  // The lease commit lands, but the signal aborts while it is on its way.
  const kv: KvLike = {
    get: (key) => denoKv.get(key),
    set: (key, value, options) => denoKv.set(key, value, options),
    delete: (key) => denoKv.delete(key),
    atomic: () => {
      const operation = denoKv.atomic();
      const commit = operation.commit.bind(operation);
      operation.commit = async () => {
        const result = await commit();
        controller.abort(reason);
        return result;
      };
      return operation;
    },
  };
  const cache = new KvTokenCache({ kv, key: KEY });
  let ran = false;
  await assert.rejects(
    cache.lock(() => {
      ran = true;
      return Promise.resolve();
    }, { signal: controller.signal }),
    (error) => error === reason,
  );
  assert.equal(ran, false);
  assert.equal((await denoKv.get([...KEY, "lock"])).value, null, "released");
});
