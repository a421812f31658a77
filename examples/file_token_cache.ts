// Tokens that survive restarts: a FileTokenCache in the Python SDK's format,
// so a Python and a Deno app can share one file. Offline, against the fake:
//
//   deno run --allow-net=127.0.0.1 --allow-read --allow-write examples/file_token_cache.ts [path]
//
// With the real Spotify, drop the fake and pass your credentials; the cache
// needs only --allow-read=PATH --allow-write=DIR for its own file.

import { ClientCredentials, FileTokenCache } from "@spotify-sdk/auth";
import { FakeAccountsServer } from "@spotify-sdk/auth/testing";

const dir = Deno.args[0] === undefined
  ? await Deno.makeTempDir({ prefix: "spotify-token-" })
  : undefined;
const path = Deno.args[0] ?? `${dir}/token.json`;

await using server = new FakeAccountsServer();
await server.listen();

/** One "run" of an app: a fresh provider over the same file. */
async function run(label: string): Promise<void> {
  await using auth = new ClientCredentials({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    accountsUrl: server.url,
    tokenCache: new FileTokenCache({ path }),
  });
  const before = server.tokenRequestCount;
  await auth.getAccessToken();
  console.log(
    `${label}: got a token with ${
      server.tokenRequestCount - before
    } token request(s)`,
  );
}

await run("first run ");
await run("second run"); // reads the file: no request
const mode = ((await Deno.stat(path)).mode ?? 0) & 0o777;
const onDisk = JSON.parse(await Deno.readTextFile(path));
console.log(
  `the file is mode ${mode.toString(8)} with keys ${
    Object.keys(onDisk).join(", ")
  }`,
);

// Signing out (or a refresh token Spotify no longer accepts) removes the file.
const cache = new FileTokenCache({ path });
await cache.delete();
const gone = await Deno.stat(path).then(() => false, () => true);
console.log(
  `after delete(): ${
    (await cache.get()) === undefined ? "no token" : "a token"
  }, the file is ${gone ? "gone" : "still there"}`,
);
if (dir !== undefined) await Deno.remove(dir, { recursive: true });
