// A small web app that logs users in with Spotify (authorization code + PKCE),
// keeping state and verifier per browser session, and calls the Web API.
//
// Offline, against the fake accounts service:
//   deno run --allow-net=127.0.0.1 examples/authorization_code.ts --fake
// Against Spotify (register http://127.0.0.1:8080/callback for your app):
//   deno run --env-file=.env --allow-env=SPOTIFY_SDK_CLIENT_ID,SPOTIFY_SDK_REDIRECT_URI \
//     --allow-net=127.0.0.1:8080,accounts.spotify.com,api.spotify.com \
//     examples/authorization_code.ts
// Then open http://127.0.0.1:8080/ and follow "Log in with Spotify".

import {
  AuthorizationCode,
  createAuthorizedFetch,
  SpotifyAuthError,
} from "@spotify-sdk/auth";
import { FakeAccountsServer } from "@spotify-sdk/auth/testing";

/** Options of {@linkcode startApp}. */
export interface AppOptions {
  /** Run against an in-process fake of Spotify instead of the real one. */
  fake?: boolean;
  /** Port to listen on (0: any free port). */
  port?: number;
}

/** A running app. */
export interface App extends AsyncDisposable {
  /** Base URL of the app, e.g. `http://127.0.0.1:8080`. */
  url: string;
  close(): Promise<void>;
}

interface Session {
  auth: AuthorizationCode;
  state?: string;
  codeVerifier?: string;
  loggedIn: boolean;
}

/** Starts the web app. */
export async function startApp(options: AppOptions = {}): Promise<App> {
  const port = options.port ?? 8080;
  let fake: FakeAccountsServer | undefined;
  let clientId: string | undefined;
  let accountsUrl: string | undefined;
  let webApiUrl = "https://api.spotify.com";
  if (options.fake) {
    // Spotify's accounts service on loopback; a portless loopback
    // registration matches whatever port the app gets.
    fake = new FakeAccountsServer({
      clients: [{
        clientId: "example-app",
        redirectUris: ["http://127.0.0.1/callback"],
      }],
    });
    await fake.listen();
    clientId = "example-app";
    accountsUrl = fake.url;
    webApiUrl = fake.url; // the fake also answers GET /v1/me
  }

  const sessions = new Map<string, Session>();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, onListen: () => {} },
    (request) => route(request),
  );
  const appUrl = `http://127.0.0.1:${server.addr.port}`;
  const redirectUri = fake
    ? `${appUrl}/callback`
    : Deno.env.get("SPOTIFY_SDK_REDIRECT_URI") ?? `${appUrl}/callback`;

  try {
    // Fail at start-up, not at the first login, when configuration is missing.
    await new AuthorizationCode({ clientId, redirectUri, pkce: true }).close();
  } catch (error) {
    await server.shutdown();
    await fake?.close();
    throw error;
  }

  function newSession(): [string, Session] {
    const id = crypto.randomUUID();
    const session: Session = {
      auth: new AuthorizationCode({
        clientId,
        redirectUri,
        pkce: true,
        scope: ["user-read-private", "user-read-email"],
        accountsUrl,
      }),
      loggedIn: false,
    };
    sessions.set(id, session);
    return [id, session];
  }

  async function route(request: Request): Promise<Response> {
    const { pathname } = new URL(request.url);
    const sessionId = cookie(request, "sid");
    const session = sessionId ? sessions.get(sessionId) : undefined;
    try {
      switch (pathname) {
        case "/":
          return page(
            session?.loggedIn
              ? `<p>Logged in. <a href="/me">Who am I?</a></p>`
              : `<p><a href="/login">Log in with Spotify</a></p>`,
          );
        case "/login": {
          const [id, fresh] = newSession();
          const request = await fresh.auth.createAuthorizationRequest();
          fresh.state = request.state;
          fresh.codeVerifier = request.codeVerifier;
          return new Response(null, {
            status: 302,
            headers: {
              location: request.url,
              "set-cookie": `sid=${id}; HttpOnly; SameSite=Lax; Path=/`,
            },
          });
        }
        case "/callback": {
          if (session?.state === undefined) {
            return page(
              "<p>No login in progress. <a href='/login'>Start again</a></p>",
              400,
            );
          }
          const code = AuthorizationCode.parseResponseUrl(request.url, {
            expectedState: session.state,
          });
          await session.auth.exchangeCode(code, {
            codeVerifier: session.codeVerifier,
          });
          session.state = session.codeVerifier = undefined;
          session.loggedIn = true;
          return new Response(null, {
            status: 302,
            headers: { location: "/me" },
          });
        }
        case "/me": {
          if (!session?.loggedIn) {
            return new Response(null, {
              status: 302,
              headers: { location: "/login" },
            });
          }
          const spotify = createAuthorizedFetch(session.auth);
          const response = await spotify(`${webApiUrl}/v1/me`);
          const profile = await response.json();
          return Response.json({
            display_name: profile.display_name,
            id: profile.id,
          });
        }
        default:
          return page("<p>Not found</p>", 404);
      }
    } catch (error) {
      if (error instanceof SpotifyAuthError) {
        return page(`<p>Login failed: ${escapeHtml(error.code)}</p>`, 400);
      }
      throw error;
    }
  }

  const close = async () => {
    await server.shutdown();
    await Promise.all([...sessions.values()].map((s) => s.auth.close()));
    await fake?.close();
  };
  return { url: appUrl, close, [Symbol.asyncDispose]: close };
}

function cookie(request: Request, name: string): string | undefined {
  const header = request.headers.get("cookie") ?? "";
  for (const part of header.split(";")) {
    const [key, value] = part.trim().split("=");
    if (key === name) return value;
  }
  return undefined;
}

function page(body: string, status = 200): Response {
  return new Response(
    `<!doctype html><meta charset="utf-8"><title>Spotify login example</title>${body}`,
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
