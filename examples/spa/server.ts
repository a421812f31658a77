// Serves the single-page app of this folder: index.html, app.ts bundled for
// the browser, and its configuration.
//
//   deno task spa --fake     offline, against FakeAccountsServer.listen()
//   deno task spa            Spotify itself: set SPOTIFY_SDK_CLIENT_ID, and
//                            register http://127.0.0.1:8080/callback (or
//                            SPOTIFY_SDK_REDIRECT_URI) for your app
//
// The page does everything else in the browser: no secret, no session.

import { FakeAccountsServer } from "@spotify-sdk/auth/testing";

/** Options of {@linkcode startSpa}. */
export interface SpaOptions {
  /** Use a fake accounts service on loopback instead of Spotify. */
  fake?: boolean;
  /** The port to serve on (`0`: any free port). Default `8080`. */
  port?: number;
}

/** The running app. */
export interface Spa extends AsyncDisposable {
  /** The URL to open, e.g. `http://127.0.0.1:8080/`. */
  readonly url: string;
  close(): Promise<void>;
}

const here = new URL(".", import.meta.url);

/** Bundles app.ts (and the module) into one browser script. */
async function bundleApp(): Promise<string> {
  const output = await new Deno.Command(Deno.execPath(), {
    args: [
      "bundle",
      "--quiet",
      "--platform=browser",
      "--minify",
      new URL("app.ts", here).pathname,
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  if (!output.success) {
    throw new Error(
      `deno bundle failed: ${new TextDecoder().decode(output.stderr)}`,
    );
  }
  return new TextDecoder().decode(output.stdout);
}

/** Starts the app (and, with `fake`, the fake accounts service). */
export async function startSpa(options: SpaOptions = {}): Promise<Spa> {
  const [script, html] = await Promise.all([
    bundleApp(),
    Deno.readTextFile(new URL("index.html", here)),
  ]);
  let fake: FakeAccountsServer | undefined;
  if (options.fake) {
    // A portless loopback registration matches whatever port the app gets.
    fake = new FakeAccountsServer({
      clients: [{
        clientId: "example-spa",
        redirectUris: ["http://127.0.0.1/callback"],
      }],
    });
    await fake.listen();
  }
  const listening = Promise.withResolvers<Deno.NetAddr>();
  let config = "";
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: options.port ?? 8080,
    onListen: (address) => listening.resolve(address as Deno.NetAddr),
  }, (request) => {
    switch (new URL(request.url).pathname) {
      case "/":
      case "/callback":
        return new Response(html, {
          headers: { "content-type": "text/html; charset=utf-8" },
        });
      case "/app.js":
        return new Response(script, {
          headers: { "content-type": "text/javascript; charset=utf-8" },
        });
      case "/config.json":
        return new Response(config, {
          headers: { "content-type": "application/json" },
        });
      default:
        return new Response("Not found", { status: 404 });
    }
  });
  const appUrl = `http://127.0.0.1:${(await listening.promise).port}`;
  const clientId = fake ? "example-spa" : Deno.env.get("SPOTIFY_SDK_CLIENT_ID");
  if (clientId === undefined) {
    await server.shutdown();
    throw new TypeError(
      "Set SPOTIFY_SDK_CLIENT_ID to your Spotify app's client id, or run with --fake",
    );
  }
  config = JSON.stringify({
    clientId,
    redirectUri: fake
      ? `${appUrl}/callback`
      : Deno.env.get("SPOTIFY_SDK_REDIRECT_URI") ?? `${appUrl}/callback`,
    ...(fake ? { accountsUrl: fake.url } : {}),
    webApiUrl: fake ? fake.url : "https://api.spotify.com",
  });
  let closed: Promise<void> | undefined;
  const close = () =>
    closed ??= (async () => {
      await server.shutdown();
      await fake?.close();
    })();
  return { url: `${appUrl}/`, close, [Symbol.asyncDispose]: close };
}

if (import.meta.main) {
  const spa = await startSpa({ fake: Deno.args.includes("--fake") });
  console.log(`Open ${spa.url} in a browser (Ctrl+C to stop).`);
  Deno.addSignalListener("SIGINT", async () => {
    await spa.close();
    Deno.exit(0);
  });
}
