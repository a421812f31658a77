// A web app where many people sign in with Spotify, with UserSessions:
// sessions and their tokens in Deno KV, refreshed once per expiry however
// many processes serve the app, and a sign-in page again when a user's
// 6-month authorization runs out.
//
// Offline, against the fake accounts service:
//   deno run --unstable-kv --allow-net=127.0.0.1 examples/web_app.ts --fake
// Against Spotify (register http://127.0.0.1:8080/callback for your app):
//   deno run --env-file=.env --unstable-kv \
//     --allow-env=SPOTIFY_SDK_CLIENT_ID,SPOTIFY_SDK_CLIENT_SECRET,SPOTIFY_SDK_REDIRECT_URI \
//     --allow-net=127.0.0.1:8080,accounts.spotify.com,api.spotify.com \
//     --allow-read --allow-write examples/web_app.ts
// Then open http://127.0.0.1:8080/ and follow "Sign in with Spotify".

import {
  createAuthorizedFetch,
  type GetAccessTokenOptions,
  SpotifyAuthError,
  UserSessions,
} from "@spotify-sdk/auth";
import { FakeAccountsServer } from "@spotify-sdk/auth/testing";

/** Options of {@linkcode startApp}. */
export interface AppOptions {
  /** Run against an in-process fake of Spotify instead of the real one. */
  fake?: boolean;
  /** Port to listen on (0: any free port). */
  port?: number;
  /** The KV store's path (`":memory:"` with `fake`; else Deno's default). */
  kvPath?: string;
}

/** A running app. */
export interface App extends AsyncDisposable {
  /** Base URL of the app, e.g. `http://127.0.0.1:8080`. */
  url: string;
  close(): Promise<void>;
}

/** Starts the web app. */
export async function startApp(options: AppOptions = {}): Promise<App> {
  let fake: FakeAccountsServer | undefined;
  let webApiUrl = "https://api.spotify.com";
  if (options.fake) {
    // Spotify's accounts service (and GET /v1/me) on loopback; a portless
    // loopback registration matches whatever port the app gets.
    fake = new FakeAccountsServer({
      clients: [{
        clientId: "example-app",
        clientSecret: "example-secret",
        redirectUris: ["http://127.0.0.1/callback"],
      }],
    });
    await fake.listen();
    webApiUrl = fake.url;
  }
  const kv = await Deno.openKv(
    options.kvPath ?? (options.fake ? ":memory:" : undefined),
  );

  let sessions: UserSessions | undefined;
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port ?? 8080, onListen() {} },
    (request) => route(request),
  );
  const appUrl = `http://127.0.0.1:${server.addr.port}`;
  try {
    sessions = new UserSessions({
      kv,
      scope: ["user-read-private", "user-read-email"],
      ...fake
        ? {
          clientId: "example-app",
          clientSecret: "example-secret",
          redirectUri: `${appUrl}/callback`,
          accountsUrl: fake.url,
        }
        : {}, // SPOTIFY_SDK_CLIENT_ID, _CLIENT_SECRET, _REDIRECT_URI
      onAuthorizationLost: (_error, sessionId) => {
        console.log(`session ${sessionId.slice(0, 6)}…: sign-in expired`);
      },
    });
  } catch (error) {
    // Fail at start-up, not at the first sign-in, when configuration is missing.
    await server.shutdown();
    kv.close();
    await fake?.close();
    throw error;
  }

  async function route(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    try {
      switch (pathname) {
        case "/": {
          const signedIn = await sessions!.getSessionId(request) !== undefined;
          return page(
            signedIn
              ? `<p>Signed in. <a href="/me">Who am I?</a></p>
                 <form method="post" action="/logout"><button>Sign out</button></form>`
              : `<p><a href="/login">Sign in with Spotify</a></p>`,
          );
        }
        case "/login":
          return await sessions!.signIn(request);
        case "/callback":
          return (await sessions!.handleCallback(request)).response;
        case "/logout":
          // POST only: a cross-site <img src="/logout"> must not sign anyone out.
          if (request.method !== "POST") {
            return page("<p>Use the form</p>", 405);
          }
          return await sessions!.signOut(request);
        case "/me": {
          // This user's token for this request; a 401 refreshes it once.
          const spotify = createAuthorizedFetch({
            getAccessToken: (options?: GetAccessTokenOptions) =>
              sessions!.getAccessToken(request, options),
          });
          const profile = await (await spotify(`${webApiUrl}/v1/me`)).json();
          return Response.json({
            display_name: profile.display_name,
            id: profile.id,
          });
        }
        default:
          return page("<p>Not found</p>", 404);
      }
    } catch (error) {
      if (!(error instanceof SpotifyAuthError)) throw error;
      if (error.code === "authorization_required") {
        // Never signed in, signed out, or the 6 months ran out.
        return Response.redirect(new URL("/login", request.url), 302);
      }
      return page(
        `<p>Sign-in failed: ${
          escapeHtml(error.code)
        }. <a href="/login">Try again</a></p>`,
        400,
      );
    }
  }

  const close = async () => {
    await server.shutdown();
    await sessions!.close();
    kv.close();
    await fake?.close();
  };
  return { url: appUrl, close, [Symbol.asyncDispose]: close };
}

function page(body: string, status = 200): Response {
  return new Response(
    `<!doctype html><meta charset="utf-8"><title>Spotify web app example</title>${body}`,
    { status, headers: { "content-type": "text/html; charset=utf-8" } },
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

if (import.meta.main) {
  const app = await startApp({ fake: Deno.args.includes("--fake") });
  console.log(`Open ${app.url}/ in a browser (Ctrl+C to stop).`);
  Deno.addSignalListener("SIGINT", async () => {
    await app.close();
    Deno.exit(0);
  });
}
