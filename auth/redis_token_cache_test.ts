// RedisTokenCache against scripted clients: options, reply shapes, errors
// and timeouts. Behaviour against a real Redis is in the e2e test.
import assert from "node:assert/strict";
import { type RedisLike, RedisTokenCache } from "./redis_token_cache.ts";
import type { TokenInfo } from "./token.ts";

const KEY = "app:token";

const USER_TOKEN: TokenInfo = {
  accessToken: "access-secret-123",
  expiresAt: 1_700_000_000.5,
  refreshToken: "refresh-secret-456",
  scope: "user-read-private",
};

/** A client that answers each command with `answer(args)` and logs it. */
function scripted(
  answer: (args: string[]) => unknown,
): RedisLike & { sent: string[][] } {
  const sent: string[][] = [];
  return {
    sent,
    sendCommand(args) {
      sent.push(args);
      try {
        return Promise.resolve(answer(args));
      } catch (error) {
        return Promise.reject(error);
      }
    },
  };
}

Deno.test("RedisTokenCache rejects options it cannot work with", () => {
  const redis = scripted(() => null);
  for (
    const options of [
      undefined,
      {},
      { redis: {}, key: KEY },
      { redis: { sendCommand: "GET" }, key: KEY },
    ]
  ) {
    assert.throws(
      () =>
        new RedisTokenCache(
          options as unknown as ConstructorParameters<
            typeof RedisTokenCache
          >[0],
        ),
      (error: unknown) =>
        error instanceof TypeError && error.message.includes("sendCommand"),
    );
  }
  for (const key of [undefined, "", ["app", "token"]]) {
    assert.throws(
      () => new RedisTokenCache({ redis, key: key as string }),
      (error: unknown) =>
        error instanceof TypeError && error.message.includes("options.key"),
    );
  }
  for (const name of ["leaseMs", "lockTimeoutMs", "commandTimeoutMs"]) {
    for (const value of [0, -1, Number.NaN, Infinity]) {
      assert.throws(
        () => new RedisTokenCache({ redis, key: KEY, [name]: value }),
        (error: unknown) =>
          error instanceof RangeError && error.message.includes(name),
      );
    }
    // A wrong type is a TypeError that shows the value and its type.
    assert.throws(
      () => new RedisTokenCache({ redis, key: KEY, [name]: "1000" }),
      (error: unknown) =>
        error instanceof TypeError && error.message.includes(name) &&
        error.message.includes('the string "1000"'),
    );
  }
});

Deno.test("RedisTokenCache calls sendCommand() as a method of the client", async () => {
  // Like node-redis: the method needs its own object as `this`.
  class Client implements RedisLike {
    #stored: string | null = null;
    sendCommand(args: string[]): Promise<unknown> {
      if (args[0] === "SET") this.#stored = args[2];
      return Promise.resolve(args[0] === "GET" ? this.#stored : "OK");
    }
  }
  const cache = new RedisTokenCache({ redis: new Client(), key: KEY });
  await cache.set(USER_TOKEN);
  assert.deepEqual(await cache.get(), USER_TOKEN);
});

Deno.test("RedisTokenCache reads replies that arrive as bytes", async () => {
  const bytes = (text: string) => new TextEncoder().encode(text);
  const redis = scripted(([command]) =>
    command === "GET"
      ? bytes('{"access_token":"a","expires_at":2e9,"scope":"s"}')
      : command === "SET"
      ? bytes("OK")
      : 1
  );
  const cache = new RedisTokenCache({ redis, key: KEY });
  assert.deepEqual(await cache.get(), {
    accessToken: "a",
    expiresAt: 2e9,
    scope: "s",
  });
  assert.equal(await cache.lock(() => Promise.resolve("in")), "in");
  assert.equal(redis.sent.filter(([command]) => command === "SET").length, 1);
});

Deno.test("RedisTokenCache sends only commands on key and key:lock", async () => {
  let held = false;
  let renewed = () => {};
  const renewal = new Promise<void>((resolve) => (renewed = resolve));
  const redis = scripted(([command, ...rest]) => {
    if (command === "SET" && rest.includes("NX")) {
      if (held) return null;
      held = true;
      return "OK";
    }
    if (command === "EVAL" && rest[0].includes("PEXPIRE")) renewed();
    if (command === "EVAL" && rest[0].includes("DEL")) held = false;
    return command === "GET" ? null : "OK";
  });
  const cache = new RedisTokenCache({ redis, key: KEY, leaseMs: 3 });
  await cache.lock(async () => {
    await cache.get();
    await cache.set(USER_TOKEN);
    await renewal;
  });
  await cache.delete();
  const keys = new Set(
    redis.sent.map((args) => args[0] === "EVAL" ? args[3] : args[1]),
  );
  assert.deepEqual([...keys].sort(), [KEY, `${KEY}:lock`]);
  const scripts = redis.sent.filter(([command]) => command === "EVAL");
  assert.ok(scripts.every((args) => args[2] === "1"), "one key per script");
});

Deno.test("RedisTokenCache names Redis and the command when the client fails", async () => {
  const offline = new Error("The client is offline");
  const cache = new RedisTokenCache({
    redis: scripted(() => {
      throw offline;
    }),
    key: KEY,
  });
  for (
    const [call, command] of [
      [() => cache.get(), 'GET "app:token"'],
      [() => cache.set(USER_TOKEN), 'SET "app:token"'],
      [() => cache.delete(), 'DEL "app:token"'],
      [() => cache.lock(() => Promise.resolve()), 'SET "app:token:lock" NX PX'],
    ] as const
  ) {
    await assert.rejects(call(), (error: unknown) => {
      assert.ok(error instanceof Error);
      assert.equal(
        error.message,
        `RedisTokenCache: Redis command ${command} failed: The client is offline`,
      );
      assert.equal(error.cause, offline);
      return true;
    });
  }
});

Deno.test("RedisTokenCache reports a client that throws instead of rejecting like any failure", async () => {
  const closed = new Error("The client is closed");
  const cache = new RedisTokenCache({
    redis: {
      sendCommand() {
        throw closed;
      },
    },
    key: KEY,
  });
  await assert.rejects(
    cache.get(),
    (error: unknown) =>
      error instanceof Error && error.cause === closed &&
      error.message.startsWith(
        'RedisTokenCache: Redis command GET "app:token"',
      ),
  );
});

Deno.test("RedisTokenCache never puts the token in a message, even when the client echoes it", async () => {
  const cache = new RedisTokenCache({
    redis: scripted((args) => {
      throw new Error(
        `ERR unknown command '${args[0]}', with args beginning with: '${
          args.slice(1).join("' '").replaceAll('"', '\\"')
        }'`,
      );
    }),
    key: KEY,
  });
  await assert.rejects(cache.set(USER_TOKEN), (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.match(
      error.message,
      /^RedisTokenCache: Redis command SET "app:token" failed: /,
    );
    assert.ok(!error.message.includes("secret"), error.message);
    return true;
  });
});

Deno.test("RedisTokenCache rejects a command that gets no reply within commandTimeoutMs", async () => {
  const cache = new RedisTokenCache({
    redis: { sendCommand: () => new Promise(() => {}) },
    key: KEY,
    commandTimeoutMs: 30,
  });
  await assert.rejects(
    cache.get(),
    (error: unknown) =>
      error instanceof Error &&
      error.message ===
        'RedisTokenCache: Redis command GET "app:token" got no reply within 30 ms (commandTimeoutMs).',
  );
});

Deno.test("RedisTokenCache.lock() rejects at once when Redis fails while taking the lock", async () => {
  const redis = scripted(() => {
    throw new Error("connect ECONNREFUSED 127.0.0.1:6379");
  });
  const cache = new RedisTokenCache({ redis, key: KEY, lockTimeoutMs: 60_000 });
  let ran = false;
  await assert.rejects(
    cache.lock(() => {
      ran = true;
      return Promise.resolve();
    }),
    /^Error: RedisTokenCache: Redis command SET "app:token:lock" NX PX failed: connect ECONNREFUSED/,
  );
  assert.equal(ran, false);
  assert.equal(redis.sent.length, 1, "no retry");
});

Deno.test("RedisTokenCache.lock() with an aborted signal rejects with its reason, sending nothing", async () => {
  const redis = scripted(() => "OK");
  const cache = new RedisTokenCache({ redis, key: KEY });
  const reason = new Error("closed");
  await assert.rejects(
    cache.lock(() => Promise.resolve(), { signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
  assert.equal(redis.sent.length, 0);
});

Deno.test("RedisTokenCache.lock() gives back a lock taken after its wait was abandoned", async () => {
  let answer = (_reply: unknown) => {};
  const redis: RedisLike & { sent: string[][] } = {
    sent: [],
    sendCommand(args) {
      this.sent.push(args);
      if (args[0] === "SET") {
        return new Promise((resolve) => (answer = resolve));
      }
      return Promise.resolve(1);
    },
  };
  const cache = new RedisTokenCache({ redis, key: KEY });
  const controller = new AbortController();
  const locking = cache.lock(() => Promise.resolve(), {
    signal: controller.signal,
  });
  controller.abort(new Error("closed"));
  await assert.rejects(locking, /closed/);
  answer("OK"); // the SET NX went through after all
  await Promise.resolve();
  await Promise.resolve();
  const release = redis.sent.at(-1)!;
  assert.equal(release[0], "EVAL");
  assert.ok(release[1].includes("DEL"));
  assert.equal(release[4], redis.sent[0][2], "our owner");
});

Deno.test("RedisTokenCache.set() rejects a malformed token with a TypeError, sending nothing", async () => {
  const redis = scripted(() => "OK");
  const cache = new RedisTokenCache({ redis, key: KEY });
  for (
    const token of [
      { accessToken: "", expiresAt: 1 },
      { accessToken: "a", expiresAt: Number.NaN },
      { accessToken: "a", expiresAt: 1, refreshToken: 5 },
      { accessToken: "a", expiresAt: 1, authorizedAt: "today" },
    ]
  ) {
    await assert.rejects(
      cache.set(token as unknown as TokenInfo),
      (error: unknown) =>
        error instanceof TypeError &&
        error.message.startsWith("RedisTokenCache.set()"),
    );
  }
  assert.equal(redis.sent.length, 0);
});

Deno.test("RedisTokenCache leaves out a client message that echoes part of the token", async () => {
  const echo = new Error(
    `ERR unknown command, with args beginning with: ${
      USER_TOKEN.accessToken.slice(2, 14)
    }`,
  );
  const cache = new RedisTokenCache({
    redis: scripted(() => {
      throw echo;
    }),
    key: KEY,
  });
  await assert.rejects(cache.set(USER_TOKEN), (error: unknown) => {
    assert.ok(error instanceof Error);
    assert.ok(!error.message.includes(USER_TOKEN.accessToken.slice(2, 14)));
    assert.match(error.message, /^RedisTokenCache: Redis command SET/);
    assert.equal(error.cause, echo);
    return true;
  });
});
