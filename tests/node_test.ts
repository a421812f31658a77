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
