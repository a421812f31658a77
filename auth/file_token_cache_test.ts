import assert from "node:assert/strict";
import { FileTokenCache } from "./file_token_cache.ts";
import { SpotifyAuthError } from "./errors.ts";
import type { TokenInfo } from "./token.ts";

const MODULE_URL = import.meta.resolve("./file_token_cache.ts");
const isPosix = Deno.build.os !== "windows";

async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "file_token_cache_test_" });
  return {
    path,
    [Symbol.asyncDispose]: async () => {
      await Deno.chmod(path, 0o700).catch(() => {});
      await Deno.remove(path, { recursive: true });
    },
  };
}

const USER_TOKEN: TokenInfo = {
  accessToken: "access-secret-123",
  expiresAt: 1_700_000_000.5,
  refreshToken: "refresh-secret-456",
  scope: "user-read-private playlist-read-private",
};

const APP_TOKEN: TokenInfo = {
  accessToken: "app-secret-789",
  expiresAt: 1_700_003_600,
};

/** Runs a Deno script (written to `dir`) and returns its outcome. */
async function runScript(
  dir: string,
  source: string,
  flags: string[],
  args: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const script = `${dir}/script_${crypto.randomUUID()}.ts`;
  await Deno.writeTextFile(script, source);
  const output = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--quiet", "--no-prompt", ...flags, script, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  await Deno.remove(script);
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

async function hasPython(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("python3", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output();
    return success;
  } catch {
    return false;
  }
}

const PYTHON = await hasPython();
if (!PYTHON) {
  console.warn(
    "python3 was not found on PATH: the Python interop tests are ignored.",
  );
}

async function runPython(
  code: string,
  args: string[],
): Promise<string> {
  const output = await new Deno.Command("python3", {
    args: ["-c", code, ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  assert.equal(output.code, 0, decoder.decode(output.stderr));
  return decoder.decode(output.stdout);
}

Deno.test("FileTokenCache.get() reads back what set() stored", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const cache = new FileTokenCache({ path: `${dir}/token.json` });
  await cache.set(USER_TOKEN);
  assert.deepEqual(await cache.get(), USER_TOKEN);
  await cache.set(APP_TOKEN);
  assert.deepEqual(await cache.get(), APP_TOKEN);
  assert.deepEqual(
    await new FileTokenCache({ path: `${dir}/token.json` }).get(),
    APP_TOKEN,
  );
});

Deno.test("FileTokenCache.set() writes the Python SDK's shape with null for absent fields", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/token.json`;
  await new FileTokenCache({ path }).set(APP_TOKEN);
  assert.deepEqual(JSON.parse(await Deno.readTextFile(path)), {
    access_token: "app-secret-789",
    expires_at: 1_700_003_600,
    refresh_token: null,
    scope: null,
  });
});

Deno.test("FileTokenCache.get() returns undefined for a missing file", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  assert.equal(
    await new FileTokenCache({ path: `${dir}/nope/token.json` }).get(),
    undefined,
  );
});

Deno.test("FileTokenCache.get() returns undefined for every corrupt file", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/token.json`;
  const cache = new FileTokenCache({ path });
  const valid = '{"access_token":"a","expires_at":1700000000}';
  const variants: [string, string | Uint8Array][] = [
    ["empty", ""],
    ["whitespace", " \n"],
    ["truncated", valid.slice(0, valid.length - 5)],
    ["binary", new Uint8Array([0, 159, 146, 150, 255, 0xfe, 1, 2])],
    ["a number", "42"],
    ["a string", '"token"'],
    ["an array", '[{"access_token":"a","expires_at":1}]'],
    ["null", "null"],
    ["no access_token", '{"expires_at":1700000000}'],
    ["empty access_token", '{"access_token":"","expires_at":1700000000}'],
    ["numeric access_token", '{"access_token":7,"expires_at":1700000000}'],
    ["null access_token", '{"access_token":null,"expires_at":1700000000}'],
    ["no expires_at", '{"access_token":"a"}'],
    ["string expires_at", '{"access_token":"a","expires_at":"1700000000"}'],
    ["infinite expires_at", '{"access_token":"a","expires_at":1e999}'],
    ["null expires_at", '{"access_token":"a","expires_at":null}'],
    ["camelCase fields", '{"accessToken":"a","expiresAt":1700000000}'],
    ["two documents", valid + valid],
  ];
  for (const [name, content] of variants) {
    if (typeof content === "string") await Deno.writeTextFile(path, content);
    else await Deno.writeFile(path, content);
    assert.equal(await cache.get(), undefined, name);
  }
});

Deno.test("FileTokenCache.get() returns undefined when the path is a directory", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await Deno.mkdir(`${dir}/token.json`);
  assert.equal(
    await new FileTokenCache({ path: `${dir}/token.json` }).get(),
    undefined,
  );
});

Deno.test("FileTokenCache.get() returns undefined when a parent is a file", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await Deno.writeTextFile(`${dir}/file`, "x");
  assert.equal(
    await new FileTokenCache({ path: `${dir}/file/token.json` }).get(),
    undefined,
  );
});

Deno.test("FileTokenCache.get() reads null optional fields as absent and ignores unknown keys", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/token.json`;
  await Deno.writeTextFile(
    path,
    '{"access_token":"a","expires_at":1700000000.0,"refresh_token":null,"scope":null,"token_type":"Bearer","extra":{"x":1}}',
  );
  const token = await new FileTokenCache({ path }).get();
  assert.deepEqual(token, { accessToken: "a", expiresAt: 1_700_000_000 });
  assert.ok(token !== undefined && !("refreshToken" in token));
});

Deno.test("FileTokenCache.get() drops wrongly-typed optional fields and keeps the token", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/token.json`;
  await Deno.writeTextFile(
    path,
    '{"access_token":"a","expires_at":5,"refresh_token":12,"scope":["x"]}',
  );
  assert.deepEqual(await new FileTokenCache({ path }).get(), {
    accessToken: "a",
    expiresAt: 5,
  });
  await Deno.writeTextFile(
    path,
    '{"access_token":"a","expires_at":5,"refresh_token":"","scope":""}',
  );
  assert.deepEqual(await new FileTokenCache({ path }).get(), {
    accessToken: "a",
    expiresAt: 5,
    scope: "",
  });
});

Deno.test({
  name: "FileTokenCache.set() creates the file 0600 and missing parents 0700",
  ignore: !isPosix,
  async fn() {
    await using tmp = await tempDir();
    const dir = tmp.path;
    const path = `${dir}/a/b/token.json`;
    await new FileTokenCache({ path }).set(USER_TOKEN);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
    assert.equal((await Deno.stat(`${dir}/a`)).mode! & 0o777, 0o700);
    assert.equal((await Deno.stat(`${dir}/a/b`)).mode! & 0o777, 0o700);
    // Replacing an existing, looser file does not inherit its mode.
    await Deno.chmod(path, 0o644);
    await new FileTokenCache({ path }).set(APP_TOKEN);
    assert.equal((await Deno.stat(path)).mode! & 0o777, 0o600);
  },
});

Deno.test({
  name:
    "FileTokenCache.set() never lets any file in the directory exist with a mode other than 0600",
  ignore: !isPosix,
  async fn() {
    await using tmp = await tempDir();
    const dir = tmp.path;
    const path = `${dir}/token.json`;
    const cache = new FileTokenCache({ path });
    const seen = new Map<string, number>();
    let writing = true;
    let scans = 0;
    const watcher = (async () => {
      while (writing) {
        for (const entry of Deno.readDirSync(dir)) {
          try {
            const mode = Deno.lstatSync(`${dir}/${entry.name}`).mode! & 0o777;
            seen.set(entry.name, mode);
            assert.equal(
              mode,
              0o600,
              `${entry.name} had mode ${mode.toString(8)}`,
            );
          } catch (error) {
            if (!(error instanceof Deno.errors.NotFound)) throw error;
          }
        }
        scans++;
        // Let the writers' operations progress between scans.
        await Promise.resolve();
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
    })();
    const hasTemp = () =>
      [...seen.keys()].some((name) => name.endsWith(".tmp"));
    for (let round = 0; round < 200 && (round < 4 || !hasTemp()); round++) {
      await Promise.all(
        Array.from(
          { length: 50 },
          (_, i) => cache.set({ accessToken: `t${round}-${i}`, expiresAt: i }),
        ),
      );
    }
    writing = false;
    await watcher;
    assert.ok(seen.has("token.json"));
    assert.ok(hasTemp(), `no temporary file seen in ${scans} scans`);
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((entry) => entry.name),
      ["token.json"],
    );
  },
});

Deno.test("FileTokenCache.set() replaces atomically under concurrent writers in and out of process", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/token.json`;
  const cache = new FileTokenCache({ path });
  await cache.set({ accessToken: "initial", expiresAt: 0 });
  const child = runScript(
    dir,
    `import { FileTokenCache } from ${JSON.stringify(MODULE_URL)};
const cache = new FileTokenCache({ path: Deno.args[0] });
for (let i = 0; i < 150; i++) {
  await cache.set({ accessToken: "sub-" + i, expiresAt: i, refreshToken: "r" + i });
}`,
    ["--allow-read", "--allow-write"],
    [path],
  );
  let done = false;
  let reads = 0;
  const reader = (async () => {
    const pattern = /^(initial|in-\d+|sub-\d+)$/;
    while (!done) {
      const raw = JSON.parse(await Deno.readTextFile(path));
      assert.match(raw.access_token, pattern);
      const token = await cache.get();
      assert.ok(token !== undefined, "get() saw no token");
      assert.match(token.accessToken, pattern);
      reads++;
    }
  })();
  for (let round = 0; round < 3; round++) {
    await Promise.all(
      Array.from(
        { length: 50 },
        (_, i) => cache.set({ accessToken: `in-${round}${i}`, expiresAt: i }),
      ),
    );
  }
  const result = await child;
  done = true;
  await reader;
  assert.equal(result.code, 0, result.stderr);
  assert.ok(reads > 0);
  assert.deepEqual(
    [...Deno.readDirSync(dir)].map((entry) => entry.name).filter((name) =>
      !name.startsWith("script_")
    ),
    ["token.json"],
  );
  assert.ok((await cache.get()) !== undefined);
});

Deno.test("FileTokenCache.set() rejects clearly when a parent is a file, without naming the token", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  await Deno.writeTextFile(`${dir}/file`, "x");
  const path = `${dir}/file/token.json`;
  await assert.rejects(
    () => new FileTokenCache({ path }).set(USER_TOKEN),
    (error: Error) => {
      assert.ok(error.message.includes(path), error.message);
      assert.ok(!error.message.includes(USER_TOKEN.accessToken));
      assert.ok(!error.message.includes(USER_TOKEN.refreshToken!));
      return true;
    },
  );
  assert.equal(await Deno.readTextFile(`${dir}/file`), "x");
});

Deno.test("FileTokenCache.set() leaves no temporary file when the rename fails", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/token.json`;
  await Deno.mkdir(path);
  await Deno.writeTextFile(`${path}/keep`, "x");
  await assert.rejects(
    () => new FileTokenCache({ path }).set(USER_TOKEN),
    (error: Error) => error.message.includes(path),
  );
  assert.deepEqual(
    [...Deno.readDirSync(dir)].map((entry) => entry.name),
    ["token.json"],
  );
  assert.equal(await Deno.readTextFile(`${path}/keep`), "x");
});

Deno.test({
  name:
    "FileTokenCache.set() in a read-only directory rejects and keeps the old file",
  ignore: !isPosix,
  async fn(t) {
    await using tmp = await tempDir();
    const dir = tmp.path;
    const path = `${dir}/token.json`;
    const cache = new FileTokenCache({ path });
    await cache.set(USER_TOKEN);
    await Deno.chmod(dir, 0o500);
    try {
      await Deno.writeTextFile(`${dir}/probe`, "");
      await Deno.remove(`${dir}/probe`);
      // Privileged (root): directory modes do not apply to us.
      await t.step({ name: "needs a non-root user", ignore: true, fn() {} });
      return;
    } catch {
      // The directory is read-only for us, as intended.
    }
    await assert.rejects(
      () => cache.set(APP_TOKEN),
      (error: Error) =>
        error.message.includes(path) &&
        !error.message.includes(APP_TOKEN.accessToken),
    );
    await Deno.chmod(dir, 0o700);
    assert.deepEqual(await cache.get(), USER_TOKEN);
    assert.deepEqual(
      [...Deno.readDirSync(dir)].map((entry) => entry.name),
      ["token.json"],
    );
  },
});

Deno.test("FileTokenCache without --allow-write rejects naming the flag and keeps the old file", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/token.json`;
  await new FileTokenCache({ path }).set(USER_TOKEN);
  const result = await runScript(
    dir,
    `import { FileTokenCache } from ${JSON.stringify(MODULE_URL)};
try {
  await new FileTokenCache({ path: Deno.args[0] }).set({ accessToken: "new-secret", expiresAt: 1 });
} catch (error) {
  console.log(JSON.stringify({ notCapable: error instanceof Deno.errors.NotCapable, message: error.message }));
}`,
    ["--allow-read"],
    [path],
  );
  assert.equal(result.code, 0, result.stderr);
  const { notCapable, message } = JSON.parse(result.stdout);
  assert.equal(notCapable, true);
  assert.match(message, /--allow-write/);
  assert.ok(message.includes(path), message);
  assert.ok(!message.includes("new-secret"));
  assert.deepEqual(await new FileTokenCache({ path }).get(), USER_TOKEN);
});

Deno.test("FileTokenCache.get() without --allow-read throws naming the flag instead of missing", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/token.json`;
  const result = await runScript(
    dir,
    `import { FileTokenCache } from ${JSON.stringify(MODULE_URL)};
try {
  console.log(JSON.stringify({ token: await new FileTokenCache({ path: Deno.args[0] }).get() ?? null }));
} catch (error) {
  console.log(JSON.stringify({ notCapable: error instanceof Deno.errors.NotCapable, message: error.message }));
}`,
    [],
    [path],
  );
  assert.equal(result.code, 0, result.stderr);
  const { notCapable, message } = JSON.parse(result.stdout);
  assert.equal(notCapable, true);
  assert.match(message, /--allow-read/);
  assert.ok(message.includes(path), message);
});

Deno.test({
  name:
    "FileTokenCache writes a file that Python's json module reads with the SDK's field names",
  ignore: !PYTHON,
}, async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const user = `${dir}/user.json`;
  const app = `${dir}/app.json`;
  await new FileTokenCache({ path: user }).set(USER_TOKEN);
  await new FileTokenCache({ path: app }).set(APP_TOKEN);
  const out = await runPython(
    `import json, sys
result = []
for path in sys.argv[1:]:
    with open(path) as f:
        d = json.load(f)
    result.append({
        "keys": sorted(d.keys()),
        "access_token": isinstance(d["access_token"], str),
        "expires_at": isinstance(d["expires_at"], (int, float)) and not isinstance(d["expires_at"], bool),
        "expires_at_value": d["expires_at"],
        "refresh_token": d["refresh_token"],
        "scope": d["scope"],
    })
print(json.dumps(result))`,
    [user, app],
  );
  const [userRead, appRead] = JSON.parse(out);
  const keys = ["access_token", "expires_at", "refresh_token", "scope"];
  assert.deepEqual(userRead, {
    keys,
    access_token: true,
    expires_at: true,
    expires_at_value: USER_TOKEN.expiresAt,
    refresh_token: USER_TOKEN.refreshToken,
    scope: USER_TOKEN.scope,
  });
  assert.deepEqual(appRead, {
    keys,
    access_token: true,
    expires_at: true,
    expires_at_value: APP_TOKEN.expiresAt,
    refresh_token: null,
    scope: null,
  });
});

Deno.test({
  name: "FileTokenCache reads a file written by Python in the SDK's format",
  ignore: !PYTHON,
}, async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const app = `${dir}/app.json`;
  const user = `${dir}/user.json`;
  await runPython(
    `import json, sys
with open(sys.argv[1], "w") as f:
    json.dump({"access_token": "py-app", "expires_at": 1700000000.0, "refresh_token": None, "scope": None}, f)
with open(sys.argv[2], "w") as f:
    json.dump({"access_token": "py-user", "expires_at": 1700000000.25, "refresh_token": "py-refresh", "scope": "user-read-email"}, f, indent=2)`,
    [app, user],
  );
  assert.deepEqual(await new FileTokenCache({ path: app }).get(), {
    accessToken: "py-app",
    expiresAt: 1_700_000_000,
  });
  assert.deepEqual(await new FileTokenCache({ path: user }).get(), {
    accessToken: "py-user",
    expiresAt: 1_700_000_000.25,
    refreshToken: "py-refresh",
    scope: "user-read-email",
  });
});

Deno.test("FileTokenCache.set() rejects a malformed token with a TypeError", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const cache = new FileTokenCache({ path: `${dir}/token.json` });
  for (
    const token of [
      { accessToken: "", expiresAt: 1 },
      { accessToken: "a", expiresAt: Number.NaN },
      { accessToken: "a", expiresAt: "1" },
      { accessToken: "a", expiresAt: 1, scope: 5 },
    ]
  ) {
    await assert.rejects(
      () => cache.set(token as unknown as TokenInfo),
      TypeError,
    );
  }
  assert.deepEqual([...Deno.readDirSync(dir)], []);
});

Deno.test("FileTokenCache rejects bad options", () => {
  assert.throws(() => new FileTokenCache({ path: "" }), TypeError);
  assert.throws(() => new FileTokenCache({ staleLockMs: 0 }), RangeError);
  assert.throws(() => new FileTokenCache({ lockTimeoutMs: -1 }), RangeError);
  assert.equal(new FileTokenCache().path, ".spotify_sdk_token.json");
});

async function exclusiveSection(
  cache: FileTokenCache,
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

Deno.test("FileTokenCache.lock() admits one caller at a time in one process", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/token.json`;
  const state = { active: 0, max: 0, entered: 0 };
  const caches = [new FileTokenCache({ path }), new FileTokenCache({ path })];
  await Promise.all(
    Array.from(
      { length: 30 },
      (_, i) => exclusiveSection(caches[i % 2], state),
    ),
  );
  assert.equal(state.entered, 30);
  assert.equal(state.max, 1);
  assert.deepEqual([...Deno.readDirSync(dir)], []);
});

Deno.test("FileTokenCache.lock() admits one process at a time", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/token.json`;
  const counter = `${dir}/counter`;
  await Deno.writeTextFile(counter, "0");
  const source = `import { FileTokenCache } from ${JSON.stringify(MODULE_URL)};
const [path, counter] = Deno.args;
const cache = new FileTokenCache({ path });
for (let i = 0; i < 25; i++) {
  await cache.lock(async () => {
    const value = Number(await Deno.readTextFile(counter));
    await new Promise((resolve) => setTimeout(resolve, 0));
    await Deno.writeTextFile(counter, String(value + 1));
  });
}`;
  const results = await Promise.all(
    Array.from(
      { length: 4 },
      () =>
        runScript(dir, source, ["--allow-read", "--allow-write"], [
          path,
          counter,
        ]),
    ),
  );
  for (const result of results) assert.equal(result.code, 0, result.stderr);
  assert.equal(await Deno.readTextFile(counter), "100");
});

Deno.test("FileTokenCache.lock() releases the lock when fn throws", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/token.json`;
  const cache = new FileTokenCache({ path, lockTimeoutMs: 1_000 });
  await assert.rejects(
    () =>
      cache.lock(() => {
        throw new Error("boom");
      }),
    { message: "boom" },
  );
  await assert.rejects(
    () => cache.lock(() => Promise.reject(new Error("boom again"))),
    { message: "boom again" },
  );
  assert.equal(await cache.lock(() => Promise.resolve(7)), 7);
  assert.deepEqual([...Deno.readDirSync(dir)], []);
});

Deno.test("FileTokenCache.lock() times out with a clear error while another holds it", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/token.json`;
  const holder = new FileTokenCache({ path });
  const waiter = new FileTokenCache({ path, lockTimeoutMs: 60 });
  await holder.lock(async () => {
    await assert.rejects(
      () => waiter.lock(() => Promise.resolve()),
      (error: unknown) => {
        assert.ok(error instanceof SpotifyAuthError);
        assert.equal(error.code, "timeout");
        assert.ok(error.message.includes(`${path}.lock`), error.message);
        assert.ok(error.message.includes(`pid ${Deno.pid}`), error.message);
        return true;
      },
    );
  });
});

async function deadPid(): Promise<number> {
  const child = new Deno.Command(Deno.execPath(), {
    args: ["eval", ""],
    stdout: "null",
    stderr: "null",
  }).spawn();
  await child.status;
  return child.pid;
}

Deno.test({
  name: "FileTokenCache.lock() breaks a lock whose owner process is gone",
  ignore: Deno.build.os === "windows",
  async fn() {
    await using tmp = await tempDir();
    const dir = tmp.path;
    const path = `${dir}/token.json`;
    const hostname = Deno.readTextFileSync("/etc/hostname").trim();
    await Deno.writeTextFile(
      `${path}.lock`,
      JSON.stringify({ pid: await deadPid(), hostname }),
    );
    const cache = new FileTokenCache({ path, lockTimeoutMs: 5_000 });
    const started = Date.now();
    assert.equal(await cache.lock(() => Promise.resolve("in")), "in");
    assert.ok(Date.now() - started < 1_000);
    assert.deepEqual([...Deno.readDirSync(dir)], []);
  },
});

Deno.test("FileTokenCache.lock() breaks a lock untouched for staleLockMs", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/token.json`;
  // A live pid on another host: only age can tell it is abandoned.
  await Deno.writeTextFile(
    `${path}.lock`,
    JSON.stringify({ pid: 1, hostname: "elsewhere.invalid" }),
  );
  const old = new Date(Date.now() - 10_000);
  await Deno.utime(`${path}.lock`, old, old);
  const cache = new FileTokenCache({ path, staleLockMs: 5_000 });
  assert.equal(await cache.lock(() => Promise.resolve("in")), "in");
});

Deno.test("FileTokenCache.lock() lets exactly one of many waiters break a stale lock", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/token.json`;
  await Deno.writeTextFile(
    `${path}.lock`,
    JSON.stringify({ pid: 1, hostname: "elsewhere.invalid" }),
  );
  const old = new Date(Date.now() - 10_000);
  await Deno.utime(`${path}.lock`, old, old);
  const state = { active: 0, max: 0, entered: 0 };
  await Promise.all(
    Array.from(
      { length: 20 },
      () =>
        exclusiveSection(
          new FileTokenCache({ path, staleLockMs: 5_000 }),
          state,
        ),
    ),
  );
  assert.equal(state.entered, 20);
  assert.equal(state.max, 1);
  assert.deepEqual([...Deno.readDirSync(dir)], []);
});

Deno.test("FileTokenCache.lock() keeps a long-running holder's lock fresh", async () => {
  await using tmp = await tempDir();
  const dir = tmp.path;
  const path = `${dir}/token.json`;
  const state = { active: 0, max: 0, entered: 0 };
  const cache = new FileTokenCache({ path, staleLockMs: 90 });
  let holderDone!: () => void;
  const holding = cache.lock(async () => {
    state.active++;
    state.entered++;
    // Outlive staleLockMs several times over while a waiter polls.
    await new Promise<void>((resolve) => {
      holderDone = resolve;
      setTimeout(resolve, 400);
    });
    state.active--;
  });
  const waiting = exclusiveSection(cache, state);
  await Promise.all([holding, waiting]);
  holderDone();
  assert.equal(state.entered, 2);
  assert.equal(state.max, 1);
});
