// Log in to Spotify from the terminal and print your display name.
//
// Against Spotify (credentials in .env, or in the environment:
// SPOTIFY_SDK_CLIENT_ID, SPOTIFY_SDK_REDIRECT_URI=http://127.0.0.1:8080/callback,
// and SPOTIFY_SDK_CLIENT_SECRET unless the app uses PKCE):
//
//   deno task login
//
// It opens your browser (or prints the URL), then says what it waits for and
// until when. Over SSH, open the URL on your own machine and paste the address
// the browser ends on (http://127.0.0.1:8080/callback?code=…) into this
// terminal.
//
// Offline, against the fake accounts service (no Spotify app needed):
//
//   deno task login --fake
//
// With $BROWSER set, --fake shows the login in that browser; otherwise this
// process plays the browser itself. The bare minimum of permissions for
// --fake (no browser) is:
//
//   deno run --allow-net=127.0.0.1 --allow-read=.cache --allow-write=.cache examples/login.ts --fake
//
// Options: --fake (offline demo), --login (log in even with a cached token).
// The token is kept in .cache/spotify-sdk/token.json (the Python SDK reads
// the same file), so the next run needs no browser.

import {
  AuthorizationCode,
  authorizeLocal,
  createAuthorizedFetch,
  FileTokenCache,
  SpotifyAuthError,
} from "@spotify-sdk/auth";
import { FakeAccountsServer } from "@spotify-sdk/auth/testing";

const USAGE = "Usage: deno run … examples/login.ts [--fake] [--login]";
const SCOPE = "user-read-private";
const CACHE_PATH = ".cache/spotify-sdk/token.json";
const ENV_FILE = ".env";
const ENV_KEYS = [
  "SPOTIFY_SDK_CLIENT_ID",
  "SPOTIFY_SDK_CLIENT_SECRET",
  "SPOTIFY_SDK_REDIRECT_URI",
];

interface Profile {
  id: string;
  display_name?: string | null;
}

/** Runs the CLI; returns the exit code. */
async function main(args: string[]): Promise<number> {
  const unknown = args.filter((arg) => arg !== "--fake" && arg !== "--login");
  if (unknown.length > 0 || args.includes("--help")) {
    console.error(USAGE);
    return unknown.length > 0 && !args.includes("--help") ? 2 : 0;
  }
  const profile = args.includes("--fake")
    ? await loginToFake()
    : await loginToSpotify(args.includes("--login"));
  console.log(`Logged in as ${profile.display_name ?? profile.id}`);
  return 0;
}

/** The real thing: the browser, Spotify's consent page, a cached token. */
async function loginToSpotify(forceLogin: boolean): Promise<Profile> {
  await loadEnvFile(ENV_FILE);
  await using auth = new AuthorizationCode({
    scope: SCOPE,
    // An app without a client secret is a public client: use PKCE.
    pkce: Deno.env.get("SPOTIFY_SDK_CLIENT_SECRET") === undefined,
    tokenCache: new FileTokenCache({ path: CACHE_PATH }),
  });
  if (forceLogin || !(await hasUsableToken(auth))) {
    // Prints the URL, what it waits for and until when; accepts a pasted
    // callback URL when the browser runs on another machine.
    await authorizeLocal(auth);
    console.error(`Token saved to ${CACHE_PATH}`);
  }
  return await fetchProfile(auth, "https://api.spotify.com/v1/me");
}

/** A cached token, or one refreshed from the cached refresh token. */
async function hasUsableToken(auth: AuthorizationCode): Promise<boolean> {
  try {
    await auth.getAccessToken();
    return true;
  } catch (error) {
    // No token yet, or its refresh token was revoked: log in again.
    if (
      error instanceof SpotifyAuthError &&
      (error.code === "authorization_required" ||
        error.code === "invalid_grant")
    ) {
      return false;
    }
    throw error;
  }
}

/**
 * The same login against a fake accounts service on loopback. This process
 * plays the browser: it follows the authorize URL, whose redirect lands on
 * authorizeLocal's loopback server.
 */
async function loginToFake(): Promise<Profile> {
  await using server = new FakeAccountsServer();
  await server.listen({ hostname: "127.0.0.1", port: 0 });
  console.error(`Fake accounts service listening at ${server.url}`);
  // A throw-away cache next to the real one, so the same flags work.
  await Deno.mkdir(".cache/spotify-sdk", { recursive: true, mode: 0o700 });
  const directory = await Deno.makeTempDir({
    dir: ".cache/spotify-sdk",
    prefix: "fake-login-",
  });
  try {
    const path = `${directory}/token.json`;
    await using auth = new AuthorizationCode({
      clientId: "test-client-id",
      clientSecret: "test-client-secret",
      redirectUri: "http://127.0.0.1/callback", // no port: any free one
      scope: SCOPE,
      accountsUrl: server.url,
      tokenCache: new FileTokenCache({ path }),
    });
    if (readBrowserVariable() !== undefined) {
      // Show the (fake) login in the user's browser, like the real thing.
      await authorizeLocal(auth, { timeoutMs: 120_000 });
    } else {
      await authorizeLocal(auth, {
        openBrowser: false,
        onAuthorizationUrl: async (url) => {
          console.error(`Authorize URL: ${url}`);
          console.error("--fake: following it the way a browser would…");
          const page = await fetch(url);
          const title = (await page.text()).match(/<title>(.*)<\/title>/)?.[1];
          console.error(`Browser shows: ${page.status} "${title}"`);
        },
      });
    }
    const saved = JSON.parse(await Deno.readTextFile(path));
    console.error(
      `Token saved to ${path} (fields: ${Object.keys(saved).join(", ")})`,
    );
    return await fetchProfile(auth, `${server.url}/v1/me`);
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
}

/** `$BROWSER`, when set and readable (`--allow-env=BROWSER`) without a prompt. */
function readBrowserVariable(): string | undefined {
  const access = Deno.permissions.querySync({
    name: "env",
    variable: "BROWSER",
  });
  if (access.state !== "granted") return undefined;
  const value = Deno.env.get("BROWSER");
  return value === "" ? undefined : value;
}

/**
 * Loads the SPOTIFY_SDK_* lines of a dotenv file into the environment
 * (variables already set win). Done here rather than with `--env-file`, which
 * warns when the file is missing, as it is for `--fake`.
 */
async function loadEnvFile(path: string): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
    console.error(
      `No ${path} file: using SPOTIFY_SDK_* from the environment (try --fake for an offline login)`,
    );
    return;
  }
  for (const line of text.split(/\r?\n/)) {
    const match = /^\s*(?:export\s+)?([A-Z0-9_]+)\s*=\s*(.*?)\s*$/.exec(line);
    if (match === null || !ENV_KEYS.includes(match[1])) continue;
    const value = match[2].replace(/^(["'])(.*)\1$/, "$2");
    if (Deno.env.get(match[1]) === undefined) Deno.env.set(match[1], value);
  }
}

async function fetchProfile(
  auth: AuthorizationCode,
  meUrl: string,
): Promise<Profile> {
  const spotifyFetch = createAuthorizedFetch(auth);
  const response = await spotifyFetch(meUrl);
  if (!response.ok) {
    await response.body?.cancel();
    throw new Error(`GET ${meUrl} answered ${response.status}`);
  }
  return await response.json() as Profile;
}

if (import.meta.main) {
  try {
    Deno.exitCode = await main(Deno.args);
  } catch (error) {
    console.error(
      `Login failed: ${error instanceof Error ? error.message : error}`,
    );
    Deno.exitCode = 1;
  }
}
