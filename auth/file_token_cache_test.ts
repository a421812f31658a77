import assert from "node:assert/strict";
import { describeCacheMiss } from "./_cache_token.ts";
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

/**
 * Like {@linkcode runScript}, but as a user that file modes apply to: when
 * this process is root (as in CI), as `nobody` via `setpriv`, owning
 * `ownDirs`; otherwise as ourselves.
 */
async function runUnprivileged(
  dir: string,
  source: string,
  flags: string[],
  args: string[],
  ownDirs: string[] = [],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const work = await Deno.makeTempDir({ dir, prefix: "unprivileged_" });
  const script = `${work}/script.ts`;
  const denoArgs = ["run", "--quiet", "--no-prompt", ...flags, script, ...args];
  let command: Deno.Command;
  if (await isRoot()) {
    // `nobody` may not be able to read this checkout (a clone in a 0700
    // directory): give it its own bundled copy of the module.
    const bundled = `${work}/file_token_cache.js`;
    const bundle = await new Deno.Command(Deno.execPath(), {
      args: [
        "bundle",
        "--quiet",
        "--platform=deno",
        "-o",
        bundled,
        new URL(MODULE_URL).pathname,
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assert.ok(bundle.success, new TextDecoder().decode(bundle.stderr));
    await Deno.chmod(bundled, 0o644);
    await Deno.writeTextFile(
      script,
      source.replaceAll(JSON.stringify(MODULE_URL), '"./file_token_cache.js"'),
    );
    const nobody = 65534;
    for (const path of [dir, work, ...ownDirs]) {
      await Deno.chmod(path, 0o755);
    }
    for (const path of ownDirs) await Deno.chown(path, nobody, nobody);
    await Deno.chmod(script, 0o644);
    const denoDir = `${work}/deno_dir`;
    await Deno.mkdir(denoDir);
    await Deno.chown(denoDir, nobody, nobody);
    command = new Deno.Command("setpriv", {
      args: [
        `--reuid=${nobody}`,
        `--regid=${nobody}`,
        "--clear-groups",
        "--",
        Deno.execPath(),
        ...denoArgs,
      ],
      env: { DENO_DIR: denoDir },
      stdout: "piped",
      stderr: "piped",
    });
  } else {
    await Deno.writeTextFile(script, source);
    command = new Deno.Command(Deno.execPath(), {
      args: denoArgs,
      stdout: "piped",
      stderr: "piped",
    });
  }
  const output = await command.output();
  await Deno.remove(work, { recursive: true });
  const decoder = new TextDecoder();
  return {
    code: output.code,
    stdout: decoder.decode(output.stdout),
    stderr: decoder.decode(output.stderr),
  };
}

/** Whether we are root: a file we create belongs to uid 0. */
async function isRoot(): Promise<boolean> {
  const probe = await Deno.makeTempFile();
  try {
    return (await Deno.stat(probe)).uid === 0;
  } finally {
    await Deno.remove(probe);
  }
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
    authorized_at: null,
  });
});

Deno.test("FileTokenCache stores authorized_at and reads it back as authorizedAt", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/token.json`;
  const token = { ...USER_TOKEN, authorizedAt: 1_699_990_000.25 };
  await new FileTokenCache({ path }).set(token);
  assert.equal(
    JSON.parse(await Deno.readTextFile(path)).authorized_at,
    1_699_990_000.25,
  );
  assert.deepEqual(await new FileTokenCache({ path }).get(), token);
});

Deno.test("FileTokenCache.get() reads a Python SDK file (four keys, no authorized_at) with authorizedAt absent", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/token.json`;
  await Deno.writeTextFile(
    path,
    '{"access_token": "py-app", "expires_at": 1700000000, "refresh_token": null, "scope": null}',
  );
  const token = await new FileTokenCache({ path }).get();
  assert.deepEqual(token, { accessToken: "py-app", expiresAt: 1_700_000_000 });
  assert.ok(token !== undefined && !("authorizedAt" in token));
});

Deno.test("FileTokenCache.get() drops a wrongly typed authorized_at and still returns the token", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/token.json`;
  const cache = new FileTokenCache({ path });
  for (const value of ['"1699990000"', "true", "[1]", "{}", "null", "1e999"]) {
    await Deno.writeTextFile(
      path,
      `{"access_token":"a","expires_at":5,"refresh_token":"r","scope":null,"authorized_at":${value}}`,
    );
    const token = await cache.get();
    assert.deepEqual(
      token,
      { accessToken: "a", expiresAt: 5, refreshToken: "r" },
      value,
    );
    assert.ok(token !== undefined && !("authorizedAt" in token), value);
  }
});

Deno.test("FileTokenCache.delete() removes the file so get() misses", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/token.json`;
  const cache = new FileTokenCache({ path });
  await cache.set(USER_TOKEN);
  await cache.delete();
  assert.equal(await cache.get(), undefined);
  assert.deepEqual([...Deno.readDirSync(tmp.path)], []);
});

Deno.test("FileTokenCache.delete() of a missing file or missing directory resolves", async () => {
  await using tmp = await tempDir();
  await new FileTokenCache({ path: `${tmp.path}/token.json` }).delete();
  await new FileTokenCache({ path: `${tmp.path}/no/such/token.json` }).delete();
  assert.deepEqual([...Deno.readDirSync(tmp.path)], []);
});

Deno.test({
  name:
    "FileTokenCache.delete() removes a symbolic link, not its target, and leaves a directory alone",
  ignore: !isPosix,
  async fn() {
    await using tmp = await tempDir();
    const target = `${tmp.path}/elsewhere.json`;
    await new FileTokenCache({ path: target }).set(USER_TOKEN);
    const link = new FileTokenCache({ path: `${tmp.path}/token.json` });
    await Deno.symlink(target, link.path);
    assert.deepEqual(await link.get(), USER_TOKEN);
    await link.delete();
    assert.equal(await link.get(), undefined);
    assert.deepEqual(
      await new FileTokenCache({ path: target }).get(),
      USER_TOKEN,
    );
    const dir = new FileTokenCache({ path: `${tmp.path}/dir.json` });
    await Deno.mkdir(dir.path);
    await dir.delete();
    assert.ok((await Deno.lstat(dir.path)).isDirectory);
  },
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
    // Collected, not thrown: a throw here would reject a promise nobody
    // awaits until the writers finish, and cancel the rest of the file.
    const wrongModes: string[] = [];
    const scanErrors: unknown[] = [];
    let writing = true;
    let scans = 0;
    const watcher = (async () => {
      while (writing) {
        for (const entry of Deno.readDirSync(dir)) {
          try {
            const mode = Deno.lstatSync(`${dir}/${entry.name}`).mode! & 0o777;
            seen.set(entry.name, mode);
            if (mode !== 0o600) {
              wrongModes.push(`${entry.name} had mode ${mode.toString(8)}`);
            }
          } catch (error) {
            if (!(error instanceof Deno.errors.NotFound)) {
              scanErrors.push(error);
            }
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
    assert.deepEqual(scanErrors, []);
    assert.deepEqual(wrongModes, []);
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
  // Collected, not thrown: a throw in this loop would reject a promise
  // nobody awaits until the writers finish, and cancel the rest of the file.
  const badReads: string[] = [];
  const reader = (async () => {
    const pattern = /^(initial|in-\d+|sub-\d+)$/;
    while (!done) {
      try {
        const raw = JSON.parse(await Deno.readTextFile(path));
        if (!pattern.test(raw.access_token)) {
          badReads.push(`file held ${JSON.stringify(raw.access_token)}`);
        }
        const token = await cache.get();
        if (token === undefined) badReads.push("get() saw no token");
        else if (!pattern.test(token.accessToken)) {
          badReads.push(`get() saw ${JSON.stringify(token.accessToken)}`);
        }
      } catch (error) {
        badReads.push(`read failed: ${error}`);
      }
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
  assert.deepEqual(badReads, []);
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
  async fn() {
    await using tmp = await tempDir();
    const dir = `${tmp.path}/cache`;
    await Deno.mkdir(dir);
    // Run as a user that directory modes apply to: root ignores them, and CI
    // runs as root.
    const result = await runUnprivileged(
      tmp.path,
      `import { FileTokenCache } from ${JSON.stringify(MODULE_URL)};
const [dir, token, newToken] = Deno.args.map((arg) => JSON.parse(arg));
const cache = new FileTokenCache({ path: dir + "/token.json" });
await cache.set(token);
await Deno.chmod(dir, 0o500);
let probeWritten = true;
try {
  await Deno.writeTextFile(dir + "/probe", "");
} catch {
  probeWritten = false;
}
let message = null;
try {
  await cache.set(newToken);
} catch (error) {
  message = error.message;
}
await Deno.chmod(dir, 0o700);
console.log(JSON.stringify({
  probeWritten,
  message,
  token: await cache.get() ?? null,
  entries: [...Deno.readDirSync(dir)].map((entry) => entry.name),
}));`,
      ["--allow-read", "--allow-write"],
      [dir, USER_TOKEN, APP_TOKEN].map((arg) => JSON.stringify(arg)),
      [dir],
    );
    assert.equal(result.code, 0, result.stderr);
    const outcome = JSON.parse(result.stdout);
    assert.equal(outcome.probeWritten, false, "the directory was writable");
    assert.ok(outcome.message?.includes(`${dir}/token.json`), outcome.message);
    assert.ok(!outcome.message.includes(APP_TOKEN.accessToken));
    assert.deepEqual(outcome.token, USER_TOKEN);
    assert.deepEqual(outcome.entries, ["token.json"]);
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
  await new FileTokenCache({ path: user }).set({
    ...USER_TOKEN,
    authorizedAt: 1_699_990_000,
  });
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
        "authorized_at": d["authorized_at"],
    })
print(json.dumps(result))`,
    [user, app],
  );
  const [userRead, appRead] = JSON.parse(out);
  const keys = [
    "access_token",
    "authorized_at",
    "expires_at",
    "refresh_token",
    "scope",
  ];
  assert.deepEqual(userRead, {
    keys,
    access_token: true,
    expires_at: true,
    expires_at_value: USER_TOKEN.expiresAt,
    refresh_token: USER_TOKEN.refreshToken,
    scope: USER_TOKEN.scope,
    authorized_at: 1_699_990_000,
  });
  assert.deepEqual(appRead, {
    keys,
    access_token: true,
    expires_at: true,
    expires_at_value: APP_TOKEN.expiresAt,
    refresh_token: null,
    scope: null,
    authorized_at: null,
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

// ---------------------------------------------------------------------------
// 0.2 hardening: what is at the token and lock paths is not to be trusted.

/** A lock file that looks abandoned: valid owner record, untouched for 10 s. */
async function writeOldLockFile(path: string): Promise<void> {
  await Deno.writeTextFile(
    path,
    JSON.stringify({ pid: 1, hostname: "elsewhere.invalid" }),
  );
  const old = new Date(Date.now() - 10_000);
  await Deno.utime(path, old, old);
}

/**
 * Counts the file-system calls on paths ending in `.lock` (the lock file)
 * while `fn` runs: a waiter that backs off makes a few, a busy loop
 * thousands.
 */
async function countLockPathCalls<T>(
  fn: () => Promise<T>,
): Promise<{ result: PromiseSettledResult<T>; calls: number }> {
  const names = [
    "open",
    "stat",
    "lstat",
    "link",
    "readFile",
    "readTextFile",
    "remove",
  ] as const;
  const originals = names.map((name) => Deno[name]);
  let calls = 0;
  const fs = Deno as unknown as Record<string, (...args: unknown[]) => unknown>;
  names.forEach((name, i) => {
    const original = originals[i] as (...args: unknown[]) => unknown;
    fs[name] = (...args: unknown[]) => {
      if (args.some((arg) => String(arg).endsWith(".lock"))) calls++;
      return original.apply(Deno, args);
    };
  });
  try {
    const [result] = await Promise.allSettled([fn()]);
    return { result, calls };
  } finally {
    names.forEach((name, i) => {
      fs[name] = originals[i] as (...args: unknown[]) => unknown;
    });
  }
}

/** Asserts the lock() rejected with a timeout that names the lock path and `what`. */
function assertLockTimeout(
  result: PromiseSettledResult<unknown>,
  lockPath: string,
  what: RegExp,
): void {
  assert.equal(result.status, "rejected");
  const error = (result as PromiseRejectedResult).reason;
  assert.ok(error instanceof SpotifyAuthError, String(error));
  assert.equal(error.code, "timeout");
  assert.ok(error.message.includes(`"${lockPath}"`), error.message);
  assert.match(error.message, what);
}

for (
  const [name, make, what] of [
    [
      "a directory",
      async (lockPath: string) => {
        await Deno.mkdir(lockPath);
        const old = new Date(Date.now() - 10_000);
        await Deno.utime(lockPath, old, old);
      },
      /directory/,
    ],
    [
      "a dangling symbolic link",
      (lockPath: string) => Deno.symlink(`${lockPath}.nowhere`, lockPath),
      /symbolic link/,
    ],
    [
      "a symbolic link to an abandoned lock file",
      async (lockPath: string) => {
        await writeOldLockFile(`${lockPath}.target`);
        await Deno.symlink(`${lockPath}.target`, lockPath);
      },
      /symbolic link/,
    ],
  ] as const
) {
  Deno.test({
    name:
      `FileTokenCache.lock() waits on ${name} at the lock path with backoff, never removes it, and times out naming it`,
    ignore: !isPosix,
    async fn() {
      await using tmp = await tempDir();
      const path = `${tmp.path}/token.json`;
      const lockPath = `${path}.lock`;
      await make(lockPath);
      const before = await Deno.lstat(lockPath);
      const cache = new FileTokenCache({
        path,
        staleLockMs: 1_000,
        lockTimeoutMs: 200,
      });
      let entered = false;
      const started = Date.now();
      const { result, calls } = await countLockPathCalls(() =>
        cache.lock(() => {
          entered = true;
          return Promise.resolve();
        })
      );
      assert.ok(Date.now() - started >= 200);
      assertLockTimeout(result, lockPath, what);
      assert.equal(entered, false);
      // Backoff from 5 ms to 100 ms makes about eight attempts in 200 ms; a
      // busy loop makes thousands.
      assert.ok(calls < 80, `${calls} file-system calls in 200 ms`);
      const after = await Deno.lstat(lockPath);
      assert.equal(after.ino, before.ino);
      assert.equal(after.isSymlink, before.isSymlink);
      assert.equal(after.isDirectory, before.isDirectory);
    },
  });
}

Deno.test({
  name:
    "FileTokenCache.lock() never removes an abandoned lock file it cannot read (another user's 0600 file)",
  ignore: !isPosix,
  async fn() {
    await using tmp = await tempDir();
    const dir = `${tmp.path}/cache`;
    await Deno.mkdir(dir);
    const lockPath = `${dir}/token.json.lock`;
    await writeOldLockFile(lockPath);
    // As root the lock stays root's and the waiter runs as nobody; as
    // anybody else, mode 000 makes it unreadable to ourselves.
    if (await isRoot()) await Deno.chmod(lockPath, 0o600);
    else await Deno.chmod(lockPath, 0o000);
    const result = await runUnprivileged(
      tmp.path,
      `import { FileTokenCache } from ${JSON.stringify(MODULE_URL)};
const cache = new FileTokenCache({ path: Deno.args[0], staleLockMs: 1000, lockTimeoutMs: 200 });
try {
  await cache.lock(() => Promise.resolve());
  console.log(JSON.stringify({ entered: true }));
} catch (error) {
  console.log(JSON.stringify({ code: error.code, message: error.message }));
}`,
      ["--allow-read", "--allow-write"],
      [`${dir}/token.json`],
      [dir],
    );
    assert.equal(result.code, 0, result.stderr);
    const outcome = JSON.parse(result.stdout);
    assert.equal(outcome.code, "timeout", result.stdout);
    assert.ok(outcome.message.includes(`"${lockPath}"`), outcome.message);
    assert.match(outcome.message, /cannot be read/);
    await Deno.chmod(lockPath, 0o600);
    assert.deepEqual(JSON.parse(await Deno.readTextFile(lockPath)), {
      pid: 1,
      hostname: "elsewhere.invalid",
    });
  },
});

Deno.test({
  name:
    "FileTokenCache.lock() never signals a pid that is not a positive integer other than 1",
  ignore: !isPosix,
  async fn() {
    await using tmp = await tempDir();
    const path = `${tmp.path}/token.json`;
    const hostname = Deno.readTextFileSync("/etc/hostname").trim();
    const signalled: unknown[] = [];
    const kill = Deno.kill;
    Deno.kill = (pid: number) => {
      signalled.push(pid);
    };
    try {
      for (
        const pid of [
          -20062,
          -1,
          0,
          1,
          1.5,
          2 ** 31,
          2 ** 32 - 20062,
          Number.MAX_SAFE_INTEGER,
          "4242",
          null,
        ]
      ) {
        await Deno.writeTextFile(
          `${path}.lock`,
          JSON.stringify({ pid, hostname }),
        );
        const cache = new FileTokenCache({ path, lockTimeoutMs: 30 });
        await assert.rejects(
          () => cache.lock(() => Promise.resolve()),
          (error: SpotifyAuthError) => error.code === "timeout",
        );
      }
    } finally {
      Deno.kill = kill;
    }
    assert.deepEqual(signalled, []);
  },
});

/**
 * Runs `source` in a child that waits for a line on stdin, then limits the
 * child's file size to 0 bytes (`prlimit`), so that its first write to a
 * file kills it with SIGXFSZ: a crash at the worst moment, every time.
 */
async function crashOnFirstWrite(
  dir: string,
  source: string,
  args: string[],
): Promise<Deno.CommandStatus> {
  const script = `${dir}/script_${crypto.randomUUID()}.ts`;
  await Deno.writeTextFile(
    script,
    `console.log("ready");
for await (const _ of Deno.stdin.readable) break;
${source}`,
  );
  const child = new Deno.Command(Deno.execPath(), {
    // Nothing but the code under test may write: no code cache, no lock file.
    args: [
      "run",
      "--quiet",
      "--no-config",
      "--no-code-cache",
      "--allow-read",
      "--allow-write",
      script,
      ...args,
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const lines = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
  let seen = "";
  while (!seen.includes("ready")) {
    const { value, done } = await lines.read();
    if (done) break;
    seen += value;
  }
  const limited = await new Deno.Command("prlimit", {
    args: ["--pid", String(child.pid), "--fsize=0:0"],
  }).output();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("go\n"));
  await writer.close().catch(() => {});
  while (!(await lines.read()).done) {
    // Drain stdout until the child is gone.
  }
  const status = await child.status;
  await Deno.remove(script);
  assert.ok(limited.success, new TextDecoder().decode(limited.stderr));
  return status;
}

async function hasPrlimit(): Promise<boolean> {
  if (Deno.build.os !== "linux") return false;
  try {
    return (await new Deno.Command("prlimit", {
      args: ["--version"],
      stdout: "null",
      stderr: "null",
    }).output()).success;
  } catch {
    return false;
  }
}

const PRLIMIT = await hasPrlimit();
if (!PRLIMIT && Deno.build.os === "linux") {
  console.warn("prlimit was not found on PATH: the crash tests are ignored.");
}

Deno.test({
  name:
    "FileTokenCache.lock() leaves no empty lock file when its process dies while taking the lock",
  ignore: !PRLIMIT,
  async fn() {
    await using tmp = await tempDir();
    const path = `${tmp.path}/token.json`;
    const status = await crashOnFirstWrite(
      tmp.path,
      `import { FileTokenCache } from ${JSON.stringify(MODULE_URL)};
await new FileTokenCache({ path: Deno.args[0] }).lock(() => Promise.resolve());`,
      [path],
    );
    assert.equal(status.signal, "SIGXFSZ");
    assert.ok(
      [...Deno.readDirSync(tmp.path)].length > 0,
      "the child died before it created any file",
    );
    // Either no lock at all, or a whole one: never an empty file that only
    // ages out.
    const lock = await Deno.readTextFile(`${path}.lock`).catch(() => null);
    if (lock !== null) assert.equal(JSON.parse(lock).pid > 1, true, lock);
    const cache = new FileTokenCache({ path, lockTimeoutMs: 2_000 });
    assert.equal(await cache.lock(() => Promise.resolve("in")), "in");
  },
});

Deno.test({
  name:
    "FileTokenCache.set() removes this cache's temporary files older than staleLockMs that a crash left",
  ignore: !PRLIMIT,
  async fn() {
    await using tmp = await tempDir();
    const dir = tmp.path;
    const path = `${dir}/token.json`;
    for (
      const source of [
        `await new FileTokenCache({ path: Deno.args[0] }).set({ accessToken: "a", expiresAt: 1 });`,
        `await new FileTokenCache({ path: Deno.args[0] }).lock(() => Promise.resolve());`,
      ]
    ) {
      const status = await crashOnFirstWrite(
        dir,
        `import { FileTokenCache } from ${JSON.stringify(MODULE_URL)};
${source}`,
        [path],
      );
      assert.equal(status.signal, "SIGXFSZ");
    }
    const leftovers = [...Deno.readDirSync(dir)].map((entry) => entry.name);
    assert.equal(leftovers.length, 2, leftovers.join(", "));
    // Files of other caches and other programs are not ours to remove.
    const others = [".other.json.0123456789abcdef.tmp", "notes.tmp"];
    for (const name of others) await Deno.writeTextFile(`${dir}/${name}`, "");
    const cache = new FileTokenCache({ path, staleLockMs: 5_000 });
    // Young temporary files may belong to a writer at work.
    await cache.set(APP_TOKEN);
    const names = () =>
      [...Deno.readDirSync(dir)].map((entry) => entry.name).sort();
    assert.deepEqual(names(), [...leftovers, ...others, "token.json"].sort());
    const old = new Date(Date.now() - 10_000);
    for (const name of [...leftovers, ...others]) {
      await Deno.utime(`${dir}/${name}`, old, old);
    }
    await cache.set(USER_TOKEN);
    assert.deepEqual(names(), [...others, "token.json"].sort());
    assert.deepEqual(await cache.get(), USER_TOKEN);
  },
});

Deno.test("FileTokenCache.lock() stops waiting at once when its signal aborts, with the signal's reason", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/token.json`;
  const holder = new FileTokenCache({ path });
  const waiter = new FileTokenCache({ path, lockTimeoutMs: 5_000 });
  const controller = new AbortController();
  const reason = new Error("closed");
  let entered = false;
  await holder.lock(async () => {
    const waiting = waiter.lock(() => {
      entered = true;
      return Promise.resolve();
    }, { signal: controller.signal });
    const timer = setTimeout(() => controller.abort(reason), 50);
    const started = Date.now();
    const [result] = await Promise.allSettled([waiting]);
    clearTimeout(timer);
    assert.deepEqual(result, { status: "rejected", reason });
    assert.ok(Date.now() - started < 1_000);
  });
  assert.equal(entered, false);
  assert.deepEqual([...Deno.readDirSync(tmp.path)], []);
});

Deno.test("FileTokenCache.lock() with an aborted signal rejects without taking the lock", async () => {
  await using tmp = await tempDir();
  const cache = new FileTokenCache({ path: `${tmp.path}/token.json` });
  const reason = new Error("closed");
  let entered = false;
  await assert.rejects(
    () =>
      cache.lock(() => {
        entered = true;
        return Promise.resolve();
      }, { signal: AbortSignal.abort(reason) }),
    (error) => error === reason,
  );
  assert.equal(entered, false);
  assert.deepEqual([...Deno.readDirSync(tmp.path)], []);
});

Deno.test("FileTokenCache.lock() lets fn finish when the signal aborts after the lock was taken", async () => {
  await using tmp = await tempDir();
  const cache = new FileTokenCache({ path: `${tmp.path}/token.json` });
  const controller = new AbortController();
  const result = await cache.lock(() => {
    controller.abort(new Error("closed"));
    return Promise.resolve("done");
  }, { signal: controller.signal });
  assert.equal(result, "done");
  assert.deepEqual([...Deno.readDirSync(tmp.path)], []);
});

Deno.test("FileTokenCache.lock() rejects a signal that is not an AbortSignal with a TypeError", async () => {
  await using tmp = await tempDir();
  const cache = new FileTokenCache({ path: `${tmp.path}/token.json` });
  await assert.rejects(
    () =>
      cache.lock(() => Promise.resolve(), {
        signal: {} as unknown as AbortSignal,
      }),
    TypeError,
  );
});

Deno.test("FileTokenCache.get() reads a file of exactly 64 KiB and misses a larger one", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/token.json`;
  const cache = new FileTokenCache({ path });
  const json = JSON.stringify({ access_token: "a", expires_at: 5 });
  await Deno.writeTextFile(path, json.padEnd(64 * 1024, " "));
  assert.deepEqual(await cache.get(), { accessToken: "a", expiresAt: 5 });
  await Deno.writeTextFile(path, json.padEnd(64 * 1024 + 1, " "));
  assert.equal(await cache.get(), undefined);
});

Deno.test({
  name: "FileTokenCache.get() follows a symbolic link to a regular file",
  ignore: !isPosix,
  async fn() {
    await using tmp = await tempDir();
    await new FileTokenCache({ path: `${tmp.path}/real.json` }).set(USER_TOKEN);
    await Deno.symlink(`${tmp.path}/real.json`, `${tmp.path}/token.json`);
    assert.deepEqual(
      await new FileTokenCache({ path: `${tmp.path}/token.json` }).get(),
      USER_TOKEN,
    );
  },
});

Deno.test({
  name:
    "FileTokenCache.get() misses at once on a FIFO, a device and a huge file instead of hanging",
  ignore: Deno.build.os !== "linux",
  async fn() {
    await using tmp = await tempDir();
    const dir = tmp.path;
    const mkfifo = await new Deno.Command("mkfifo", {
      args: [`${dir}/fifo.json`],
    }).output();
    assert.ok(mkfifo.success);
    await Deno.symlink("/dev/zero", `${dir}/zero.json`);
    using huge = await Deno.create(`${dir}/huge.json`);
    await huge.truncate(1024 * 1024 * 1024);
    // In a child with a deadline: before the fix, the FIFO blocked forever
    // and /dev/zero filled memory.
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        `import { FileTokenCache } from ${JSON.stringify(MODULE_URL)};
const results = [];
for (const name of ["fifo.json", "zero.json", "huge.json"]) {
  results.push(await new FileTokenCache({ path: ${
          JSON.stringify(dir)
        } + "/" + name }).get() ?? null);
}
console.log(JSON.stringify(results));`,
      ],
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const deadline = setTimeout(() => child.kill("SIGKILL"), 10_000);
    const output = await child.output();
    clearTimeout(deadline);
    assert.equal(output.code, 0, new TextDecoder().decode(output.stderr));
    assert.deepEqual(
      JSON.parse(new TextDecoder().decode(output.stdout)),
      [null, null, null],
    );
  },
});

// ---------------------------------------------------------------------------
// First use: a corrupt token file must not look like a first run.

const SECRET_ACCESS = "access-secret-in-a-broken-file";
const SECRET_REFRESH = "refresh-secret-in-a-broken-file";

for (
  const [name, make, expected] of [
    ["no file", () => Promise.resolve(), /^no token file at "PATH" yet$/],
    [
      "truncated JSON",
      (path: string) =>
        Deno.writeTextFile(
          path,
          `{"access_token":"${SECRET_ACCESS}","expires_at":17`,
        ),
      /not valid JSON/,
    ],
    ["an empty file", (path: string) => Deno.writeTextFile(path, ""), /empty/],
    ["a directory", (path: string) => Deno.mkdir(path), /a directory/],
    [
      "a string expires_at next to a valid refresh token",
      (path: string) =>
        Deno.writeTextFile(
          path,
          JSON.stringify({
            access_token: SECRET_ACCESS,
            expires_at: "1999999999",
            refresh_token: SECRET_REFRESH,
            scope: null,
          }),
        ),
      /"expires_at" is a string, not a number/,
    ],
    [
      "a missing access_token",
      (path: string) =>
        Deno.writeTextFile(
          path,
          JSON.stringify({ expires_at: 1, refresh_token: SECRET_REFRESH }),
        ),
      /"access_token" is missing/,
    ],
    [
      "an array",
      (path: string) => Deno.writeTextFile(path, `["${SECRET_ACCESS}"]`),
      /an array, not an object/,
    ],
    [
      "a file over 64 KiB",
      (path: string) =>
        Deno.writeTextFile(
          path,
          JSON.stringify({ access_token: SECRET_ACCESS, expires_at: 1 })
            .padEnd(70_000, " "),
        ),
      /larger than 64 KiB/,
    ],
    [
      "a dangling symbolic link",
      (path: string) => Deno.symlink(`${path}.gone`, path),
      /symbolic link to a missing file/,
    ],
    [
      "a FIFO",
      async (path: string) => {
        const made = await new Deno.Command("mkfifo", { args: [path] })
          .output();
        assert.ok(made.success);
      },
      /FIFO/,
    ],
  ] as const
) {
  Deno.test({
    name:
      `FileTokenCache's miss description explains ${name} without any token value`,
    ignore: !isPosix,
    async fn() {
      await using tmp = await tempDir();
      const path = `${tmp.path}/token.json`;
      await make(path);
      const cache = new FileTokenCache({ path });
      assert.equal(await cache.get(), undefined);
      const description = (await describeCacheMiss(cache))!;
      assert.match(
        description,
        new RegExp(expected.source.replace("PATH", tmp.path + "/token.json")),
      );
      if (name !== "no file") {
        assert.ok(
          description.startsWith(
            `the token file "${path}" exists but could not be used (`,
          ),
          description,
        );
      }
      assert.ok(!description.includes(SECRET_ACCESS), description);
      assert.ok(!description.includes(SECRET_REFRESH), description);
    },
  });
}

Deno.test("FileTokenCache's miss description says when the file holds a token without a refresh token", async () => {
  await using tmp = await tempDir();
  const path = `${tmp.path}/token.json`;
  const cache = new FileTokenCache({ path });
  await cache.set(APP_TOKEN);
  const description = (await describeCacheMiss(cache))!;
  assert.equal(
    description,
    `the token file "${path}" holds an access token but no refresh token`,
  );
  assert.ok(!description.includes(APP_TOKEN.accessToken));
});

Deno.test("FileTokenCache's miss description says when a parent of the path is a file", async () => {
  await using tmp = await tempDir();
  await Deno.writeTextFile(`${tmp.path}/file`, "x");
  const path = `${tmp.path}/file/token.json`;
  const cache = new FileTokenCache({ path });
  assert.equal(await cache.get(), undefined);
  assert.equal(
    (await describeCacheMiss(cache))!,
    `no token file at "${path}" (a parent of that path is not a directory)`,
  );
});
