// What a new user reads first: the README, `deno doc mod.ts`, the examples.

import assert from "node:assert/strict";

const ROOT = new URL("..", import.meta.url);

function read(path: string): Promise<string> {
  return Deno.readTextFile(new URL(path, ROOT));
}

/** The JSDoc block that carries `@module` in `source`. */
function moduleDoc(source: string): string {
  const match = /\/\*\*((?:(?!\*\/)[\s\S])*?@module(?:(?!\*\/)[\s\S])*?)\*\//
    .exec(source);
  assert.ok(match, "no @module doc");
  return match[1];
}

Deno.test("mod.ts carries the tour in its own module doc, which deno doc shows", async () => {
  const doc = moduleDoc(await read("mod.ts"));
  assert.ok(!doc.includes("./auth/mod.ts"), "still points at auth/mod.ts");
  for (
    const name of [
      "ClientCredentials",
      "AuthorizationCode",
      "authorizeLocal",
      "FileTokenCache",
      "KvTokenCache",
      "createAuthorizedFetch",
      "@spotify-sdk/auth/testing",
      "SPOTIFY_SDK_CLIENT_ID",
    ]
  ) {
    assert.ok(doc.includes(name), `the tour does not mention ${name}`);
  }
  assert.match(doc, /@example/);
});

Deno.test("the examples import the package by name, as the README does", async () => {
  for await (const entry of Deno.readDir(new URL("examples/", ROOT))) {
    if (!entry.isFile || !entry.name.endsWith(".ts")) continue;
    const source = await read(`examples/${entry.name}`);
    const relative = source.match(/from "\.\.?\/[^"]*"/g) ?? [];
    assert.deepEqual(
      relative.filter((from) => /mod\.ts"$/.test(from)),
      [],
      `examples/${entry.name} imports the module by path`,
    );
  }
});

Deno.test("the README's fake-server example logs only token requests, each with its grant", async () => {
  const readme = await read("README.md");
  const section = readme.slice(readme.indexOf("## The fake accounts service"));
  const snippet = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  assert.ok(snippet, "no snippet under 'The fake accounts service'");
  const dir = await Deno.makeTempDir();
  try {
    const file = `${dir}/snippet.ts`;
    await Deno.writeTextFile(file, snippet);
    const output = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--no-check",
        `--config=${new URL("deno.json", ROOT).pathname}`,
        "--allow-net=127.0.0.1",
        file,
      ],
      env: { NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stdout = new TextDecoder().decode(output.stdout);
    assert.ok(output.success, new TextDecoder().decode(output.stderr));
    assert.ok(!stdout.includes("undefined"), stdout);
    assert.match(
      stdout.replace(/\s+/g, " "),
      /\[ "authorization_code 200", "refresh_token 503", "refresh_token 200" \]/,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
