// The core (providers, in-memory cache, errors, PKCE) must run outside Deno:
// bundle mod.ts for the browser platform and run a client-credentials and an
// authorization-code (PKCE) flow on Node against the fake over loopback.
import assert from "node:assert/strict";
import { FakeAccountsServer } from "../testing/mod.ts";

const node = await new Deno.Command("node", {
  args: ["--version"],
  stdout: "piped",
})
  .output().then((out) =>
    out.success ? new TextDecoder().decode(out.stdout).trim() : undefined
  )
  .catch(() => undefined);

const NODE_SCRIPT = `
import {
  AuthorizationCode,
  ClientCredentials,
  SpotifyAuthError,
  createAuthorizedFetch,
} from "./core.mjs";

const accountsUrl = process.env.ACCOUNTS_URL;
const app = new ClientCredentials({
  clientId: "test-client-id",
  clientSecret: "test-client-secret",
  accountsUrl,
});
const appToken = await app.getAccessToken();

const user = new AuthorizationCode({
  clientId: "test-client-id",
  redirectUri: "http://127.0.0.1:9/callback",
  scope: "user-read-private",
  pkce: true,
  accountsUrl,
});
const url = await user.getAuthorizationUrl({ state: "node-state" });
const consent = await fetch(url, { redirect: "manual" });
const code = user.parseResponseUrl(consent.headers.get("location"), {
  expectedState: "node-state",
});
const token = await user.exchangeCode(code);
const refreshed = await user.getAccessToken({ forceRefresh: true });
const me = await createAuthorizedFetch(user)(accountsUrl + "/v1/me");
const profile = await me.json();

let missing = "no error";
try {
  new ClientCredentials();
} catch (error) {
  missing = error instanceof TypeError ? "TypeError" : String(error);
}
let denied = "no error";
try {
  user.parseResponseUrl("http://127.0.0.1:9/callback?error=access_denied&state=node-state", {
    expectedState: "node-state",
  });
} catch (error) {
  denied = error instanceof SpotifyAuthError ? error.code : String(error);
}
await app.close();
await user.close();
console.log(JSON.stringify({
  appToken,
  exchanged: token.accessToken,
  refreshed,
  displayName: profile.display_name,
  missing,
  denied,
}));
`;

Deno.test({
  name:
    "the core runs on Node: client credentials and PKCE authorization code against the fake",
  ignore: node === undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "spotify-auth-node-" });
    try {
      const bundle = await new Deno.Command(Deno.execPath(), {
        args: [
          "bundle",
          "--quiet",
          "--platform",
          "browser",
          "--format",
          "esm",
          "-o",
          `${dir}/core.mjs`,
          new URL("../mod.ts", import.meta.url).pathname,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(bundle.success, new TextDecoder().decode(bundle.stderr));
      await Deno.writeTextFile(`${dir}/flow.mjs`, NODE_SCRIPT);

      await using server = new FakeAccountsServer();
      await server.listen();
      const run = await new Deno.Command("node", {
        args: [`${dir}/flow.mjs`],
        env: { ACCOUNTS_URL: server.url },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(run.stderr);
      assert.ok(run.success, `node ${node} failed:\n${stderr}`);
      const result = JSON.parse(new TextDecoder().decode(run.stdout));
      assert.equal(
        server.inspectAccessToken(result.appToken)?.clientId,
        "test-client-id",
      );
      assert.equal(
        server.inspectAccessToken(result.refreshed)?.userId,
        "test-user",
      );
      assert.notEqual(result.refreshed, result.exchanged);
      assert.equal(result.displayName, "Test User");
      assert.equal(
        result.missing,
        "TypeError",
        "no Deno: missing env values are missing",
      );
      assert.equal(result.denied, "access_denied");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});

// The official SDK's own package on Node, with our provider underneath
// through toSpotifyApiAuth(): the adapter must not depend on Deno either.
const SDK_SCRIPT = `
import { AuthorizationCode, toSpotifyApiAuth } from "./core.mjs";
import { SpotifyApi } from "@spotify/web-api-ts-sdk";

const accountsUrl = process.env.ACCOUNTS_URL;
const user = new AuthorizationCode({
  clientId: "test-client-id",
  clientSecret: "test-client-secret",
  redirectUri: "http://127.0.0.1:9/callback",
  refreshToken: process.env.REFRESH_TOKEN,
  accountsUrl,
});
const sdk = new SpotifyApi(toSpotifyApiAuth(user), {
  // The SDK's own option: its Web API calls go to the fake.
  fetch: (input, init) =>
    fetch(String(input).replace("https://api.spotify.com", accountsUrl), init),
});
const profiles = await Promise.all(
  Array.from({ length: 50 }, () => sdk.currentUser.profile()),
);
const token = await sdk.getAccessToken();
const { authenticated } = await sdk.authenticate();
sdk.logOut();
const afterLogOut = await sdk.getAccessToken();
let signedOut = "no error";
try {
  await sdk.currentUser.profile();
} catch (error) {
  signedOut = error.code ?? String(error);
}
await user.close();
console.log(JSON.stringify({
  displayNames: [...new Set(profiles.map((profile) => profile.display_name))],
  accessToken: token.access_token,
  tokenType: token.token_type,
  refreshToken: token.refresh_token,
  expiresIn: token.expires_in,
  authenticated,
  afterLogOut,
  signedOut,
}));
`;

/** Where Deno keeps an npm package it has cached (downloading it if not). */
async function npmPackagePath(name: string, version: string): Promise<string> {
  const info = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json", `npm:${name}@${version}`],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(info.success, new TextDecoder().decode(info.stderr));
  // Lists every npm package of the project's lockfile, not only this one.
  const packages = Object.values(
    JSON.parse(new TextDecoder().decode(info.stdout)).npmPackages as Record<
      string,
      { name: string; version: string; localPath?: string }
    >,
  );
  const path = packages.find((entry) =>
    entry.name === name && entry.version === version
  )?.localPath;
  assert.ok(path, `deno info gave no local path for ${name}@${version}`);
  return path;
}

Deno.test({
  name:
    "toSpotifyApiAuth() runs the official SDK's own package on Node against the fake",
  ignore: node === undefined,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "spotify-auth-node-sdk-" });
    try {
      const bundle = await new Deno.Command(Deno.execPath(), {
        args: [
          "bundle",
          "--quiet",
          "--platform",
          "browser",
          "--format",
          "esm",
          "-o",
          `${dir}/core.mjs`,
          new URL("../mod.ts", import.meta.url).pathname,
        ],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assert.ok(bundle.success, new TextDecoder().decode(bundle.stderr));
      await Deno.mkdir(`${dir}/node_modules/@spotify`, { recursive: true });
      await Deno.symlink(
        await npmPackagePath("@spotify/web-api-ts-sdk", "1.2.0"),
        `${dir}/node_modules/@spotify/web-api-ts-sdk`,
      );
      await Deno.writeTextFile(`${dir}/sdk.mjs`, SDK_SCRIPT);

      await using server = new FakeAccountsServer();
      await server.listen();
      const { refreshToken } = server.issueTokens({
        scope: "user-read-private",
      });
      const run = await new Deno.Command("node", {
        args: [`${dir}/sdk.mjs`],
        env: { ACCOUNTS_URL: server.url, REFRESH_TOKEN: refreshToken! },
        clearEnv: true,
        stdout: "piped",
        stderr: "piped",
      }).output();
      const stderr = new TextDecoder().decode(run.stderr);
      assert.ok(run.success, `node ${node} failed:\n${stderr}`);
      const result = JSON.parse(new TextDecoder().decode(run.stdout));
      assert.deepEqual(result.displayNames, ["Test User"]);
      assert.equal(server.tokenRequestCount, 1, "50 cold calls, 1 refresh");
      assert.equal(
        server.inspectAccessToken(result.accessToken)?.userId,
        "test-user",
      );
      assert.equal(result.tokenType, "Bearer");
      assert.equal(result.refreshToken, "", "the refresh token stays with us");
      assert.ok(result.expiresIn > 3500 && result.expiresIn <= 3600);
      assert.equal(result.authenticated, true);
      assert.equal(result.afterLogOut, null);
      assert.equal(result.signedOut, "authorization_required");
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
