// A guided, offline tour of @spotify-sdk/auth against the fake accounts
// service on loopback. Nothing here talks to Spotify.
//
//   deno task demo
//   (= deno run --allow-net=127.0.0.1 --allow-read --allow-write --unstable-kv examples/demo.ts)

import {
  AuthorizationCode,
  ClientCredentials,
  createAuthorizedFetch,
  FileTokenCache,
  KvTokenCache,
  SpotifyAuthError,
} from "@spotify-sdk/auth";
import { FakeAccountsServer, FakeClock } from "@spotify-sdk/auth/testing";

const useColor = !Deno.noColor && Deno.stdout.isTerminal();
const paint = (code: number) => (text: string) =>
  useColor ? `\x1b[${code}m${text}\x1b[0m` : text;
const bold = paint(1);
const dim = paint(2);
const green = paint(32);

let chapterNumber = 0;
function chapter(title: string): void {
  console.log(`\n${bold(`${++chapterNumber}. ${title}`)}`);
}
function say(text: string): void {
  console.log(`   ${text}`);
}
function ok(text: string): void {
  console.log(`   ${green("✓")} ${text}`);
}
/** Shows only the start of a token, as logs should. */
function short(token: string): string {
  return dim(`${token.slice(0, 14)}…`);
}

// One clock for the fake and the providers: the demo moves time by hand.
const clock = new FakeClock(Date.UTC(2026, 0, 1));
await using server = new FakeAccountsServer({
  clock,
  refreshTokenRotation: "always",
  clients: [
    {
      clientId: "demo-app",
      clientSecret: "demo-secret",
      redirectUris: ["http://127.0.0.1/callback"],
    },
  ],
});
await server.listen();
const common = {
  clientId: "demo-app",
  accountsUrl: server.url,
  clock,
  retryDelayMs: 0,
};
const tokenRequests = () => server.tokenRequestCount;

console.log(bold("@spotify-sdk/auth — an offline tour"));
say(`A fake of accounts.spotify.com is listening on ${server.url}.`);

chapter("Client credentials: an app token");
{
  await using app = new ClientCredentials({
    ...common,
    clientSecret: "demo-secret",
  });
  const token = await app.getAccessToken();
  ok(
    `got an app token ${
      short(token)
    } (token requests so far: ${tokenRequests()})`,
  );
  await app.getAccessToken();
  ok(`asked again: served from the cache, still ${tokenRequests()} request`);

  server.failNext({ status: 503 }, { times: 2 });
  const forced = await app.getAccessToken({ forceRefresh: true });
  const statuses = server.requests.slice(-3).map((r) => r.status).join(" → ");
  ok(
    `forced a refresh through an outage: HTTP ${statuses}, new token ${
      short(forced)
    }`,
  );

  const me = await createAuthorizedFetch(app)(`${server.url}/v1/me`);
  await me.body?.cancel();
  ok(
    `GET /v1/me with an app token is refused (HTTP ${me.status}): user data needs a user token`,
  );
}

chapter("Authorization code with PKCE: a user token, no client secret");
const tempDir = await Deno.makeTempDir({ prefix: "spotify-auth-demo-" });
try {
  const tokenFile = `${tempDir}/token.json`;
  let refreshToken: string | undefined;
  {
    await using user = new AuthorizationCode({
      ...common,
      redirectUri: "http://127.0.0.1:8080/callback",
      scope: ["user-read-private", "user-read-email"],
      pkce: true,
      tokenCache: new FileTokenCache({ path: tokenFile }),
    });
    const url = await user.getAuthorizationUrl({ state: "demo-state" });
    say(`authorize URL: ${dim(url.slice(0, 72))}…`);
    const callback = await server.authorize(url); // the user clicks "Agree"
    say(
      `the fake signs in "Test User" and redirects to ${
        dim(callback.split("?")[0])
      }`,
    );
    try {
      user.parseResponseUrl(callback.replace("demo-state", "forged"), {
        expectedState: "demo-state",
      });
    } catch (error) {
      if (!(error instanceof SpotifyAuthError)) throw error;
      ok(`a callback with a forged state is refused: ${error.code}`);
    }
    const code = user.parseResponseUrl(callback, {
      expectedState: "demo-state",
    });
    const token = await user.exchangeCode(code);
    refreshToken = token.refreshToken;
    ok(
      `exchanged the code: access ${short(token.accessToken)}, refresh ${
        short(refreshToken!)
      }`,
    );

    const profile =
      await (await createAuthorizedFetch(user)(`${server.url}/v1/me`)).json();
    ok(`GET /v1/me says hello to ${bold(profile.display_name)}`);

    chapter("Automatic refresh, with rotating refresh tokens");
    clock.tick(3_600_000);
    say("an hour passes on the shared clock…");
    const before = tokenRequests();
    const fresh = await user.getAccessToken();
    const rotated = (await new FileTokenCache({ path: tokenFile }).get())
      ?.refreshToken;
    ok(
      `getAccessToken() refreshed by itself (${
        tokenRequests() - before
      } request): ${short(fresh)}`,
    );
    ok(
      `Spotify rotated the refresh token ${short(refreshToken!)} → ${
        short(rotated!)
      }; the new one is saved`,
    );
  }

  chapter("File cache: tokens survive a restart");
  {
    const mode = (await Deno.stat(tokenFile)).mode! & 0o777;
    say(
      `${tokenFile.replace(tempDir, "<tmp>")} is mode ${
        mode.toString(8)
      }, in the Python SDK's format:`,
    );
    const onDisk = JSON.parse(await Deno.readTextFile(tokenFile));
    say(dim(`keys: ${Object.keys(onDisk).join(", ")}`));
    await using restarted = new AuthorizationCode({
      ...common,
      redirectUri: "http://127.0.0.1:8080/callback",
      pkce: true,
      tokenCache: new FileTokenCache({ path: tokenFile }),
    });
    const before = tokenRequests();
    await restarted.getAccessToken();
    ok(
      `a new process reads the file: no login, ${
        tokenRequests() - before
      } token requests`,
    );
  }

  chapter("Deno KV: two workers, one refresh per expiry");
  {
    const kvPath = `${tempDir}/tokens.sqlite`;
    using kvA = await Deno.openKv(kvPath);
    using kvB = await Deno.openKv(kvPath);
    const seed = server.issueTokens({
      clientId: "demo-app",
      scope: "user-read-private",
    });
    await new KvTokenCache({ kv: kvA, key: ["spotify", "demo"] }).set(seed);
    const worker = (kv: Deno.Kv) =>
      new AuthorizationCode({
        ...common,
        clientSecret: "demo-secret",
        redirectUri: "http://127.0.0.1:8080/callback",
        tokenCache: new KvTokenCache({ kv, key: ["spotify", "demo"] }),
      });
    await using workerA = worker(kvA);
    await using workerB = worker(kvB);
    clock.tick(3_600_000);
    say("the shared token expires; both workers need it at the same moment…");
    const before = tokenRequests();
    const [a, b] = await Promise.all([
      workerA.getAccessToken(),
      workerB.getAccessToken(),
    ]);
    ok(
      `both got ${a === b ? "the same" : "a"} fresh token with ${
        tokenRequests() - before
      } refresh in total`,
    );
  }
} finally {
  await Deno.remove(tempDir, { recursive: true });
}

chapter("6 months later: the sign-in expires, the user signs in again");
{
  let lost = 0;
  await using user = new AuthorizationCode({
    ...common,
    clientSecret: "demo-secret",
    redirectUri: "http://127.0.0.1:8080/callback",
    scope: "user-read-private",
    onAuthorizationLost: () => {
      lost++;
    },
  });
  const signIn = async () => {
    const { url, state } = await user.createAuthorizationRequest();
    const callback = await server.authorize(url);
    await user.exchangeCode(
      user.parseResponseUrl(callback, { expectedState: state }),
    );
  };
  await signIn();
  const deadline = await user.authorizationExpiresAt();
  say(
    `signed in; Spotify ends this sign-in on ${
      new Date(deadline! * 1000).toISOString().slice(0, 10)
    } (authorizationExpiresAt())`,
  );
  clock.tick(181 * 86_400_000);
  say("181 days pass; refreshing never extended the sign-in…");
  const before = tokenRequests();
  try {
    await user.getAccessToken();
  } catch (error) {
    if (
      !(error instanceof SpotifyAuthError) ||
      error.code !== "authorization_required"
    ) throw error;
    const cause = error.cause as SpotifyAuthError;
    ok(
      `${error.code} after ${
        tokenRequests() - before
      } request (Spotify said ${cause.code}: "${cause.description}"), onAuthorizationLost called ${lost} time`,
    );
  }
  try {
    await user.getAccessToken();
  } catch (error) {
    if (!(error instanceof SpotifyAuthError)) throw error;
    ok(
      `asked again: ${error.code} with no request (still ${
        tokenRequests() - before
      } in total): the dead token is never sent twice`,
    );
  }
  await signIn();
  ok(
    `the user signs in again on the same instance: ${
      short(await user.getAccessToken())
    }`,
  );
  await user.signOut();
  ok("signOut() forgets the token everywhere it was cached");
}

chapter("What the fake saw");
const grants = server.requests.filter((r) => r.endpoint === "token");
say(
  `${grants.length} token requests: ${
    grants.map((r) => `${r.grantType}:${r.status}`).join(", ")
  }`,
);
say(
  "Secrets, codes and tokens are redacted from this log and from every error.",
);
console.log(
  `\n${bold("Done.")} Next: README.md, examples/, and \`deno task test\`.`,
);
