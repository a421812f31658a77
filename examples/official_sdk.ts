// The official Spotify TypeScript SDK (`@spotify/web-api-ts-sdk`) with our
// provider doing the tokens: its endpoint methods, our refresh (with the
// client secret, single-flight, shared caches, sign-in expiry).
//
// Against Spotify, with the token `deno task login` saved (credentials in
// .env, as for login.ts):
//
//   deno run --env-file --allow-net=accounts.spotify.com,api.spotify.com --allow-env=SPOTIFY_SDK_CLIENT_ID,SPOTIFY_SDK_CLIENT_SECRET,SPOTIFY_SDK_REDIRECT_URI --allow-read=.cache --allow-write=.cache examples/official_sdk.ts
//
// Offline, against the in-process fake (no permissions needed):
//
//   deno run examples/official_sdk.ts --fake

// The SDK is this example's dependency, not the package's.
// deno-lint-ignore no-import-prefix
import { SpotifyApi } from "npm:@spotify/web-api-ts-sdk@1.2.0";
import {
  AuthorizationCode,
  FileTokenCache,
  SpotifyAuthError,
  toSpotifyApiAuth,
} from "@spotify-sdk/auth";
import { FakeAccountsServer, FakeClock } from "@spotify-sdk/auth/testing";

const USAGE = "Usage: deno run … examples/official_sdk.ts [--fake]";
const CACHE_PATH = ".cache/spotify-sdk/token.json";

/** Runs the example; returns the exit code. */
async function main(args: string[]): Promise<number> {
  const unknown = args.filter((arg) => arg !== "--fake");
  if (unknown.length > 0) {
    console.error(USAGE);
    return 2;
  }
  try {
    if (args.includes("--fake")) await withFake();
    else await withSpotify();
    return 0;
  } catch (error) {
    if (
      error instanceof SpotifyAuthError &&
      error.code === "authorization_required"
    ) {
      // No saved sign-in, or it expired (Spotify's last 6 months).
      console.error(
        "Not signed in (or the sign-in expired): run `deno task login` first",
      );
      return 1;
    }
    throw error;
  }
}

/** The real Web API, with the token `deno task login` saved. */
async function withSpotify(): Promise<void> {
  await using auth = new AuthorizationCode({
    pkce: Deno.env.get("SPOTIFY_SDK_CLIENT_SECRET") === undefined,
    tokenCache: new FileTokenCache({ path: CACHE_PATH }),
  });
  const sdk = new SpotifyApi(toSpotifyApiAuth(auth));
  const profile = await sdk.currentUser.profile();
  console.log(`Signed in as ${profile.display_name} (${profile.id})`);
}

/** The same calls against the fake: sign-in, profile, many calls, sign-out. */
async function withFake(): Promise<void> {
  const clock = new FakeClock();
  const server = new FakeAccountsServer({ clock });
  await using auth = new AuthorizationCode({
    clientId: "test-client-id",
    clientSecret: "test-client-secret",
    redirectUri: "http://127.0.0.1:8080/callback",
    scope: "user-read-private",
    fetch: server.fetch,
    clock,
  });
  // The fake's browser-free consent stands in for the user's browser.
  const callback = await server.authorize(await auth.getAuthorizationUrl());
  await auth.exchangeCode(auth.parseResponseUrl(callback));

  // The SDK's own `fetch` option sends its Web API calls to the fake.
  const sdk = new SpotifyApi(toSpotifyApiAuth(auth), { fetch: server.fetch });
  const profile = await sdk.currentUser.profile();
  console.log(
    `Signed in as ${profile.display_name} (${profile.id}) through the official SDK`,
  );

  clock.tick(3_600_000); // an hour later the access token has expired
  const before = server.tokenRequestCount;
  await Promise.all(
    Array.from({ length: 100 }, () => sdk.currentUser.profile()),
  );
  console.log(
    `100 concurrent SDK calls with an expired token: ${
      server.tokenRequestCount - before
    } token request`,
  );

  sdk.logOut(); // our provider's signOut(): the token leaves the cache
  const token = await sdk.getAccessToken();
  console.log(`After sdk.logOut(), sdk.getAccessToken() is ${token}`);
}

if (import.meta.main) Deno.exit(await main(Deno.args));
