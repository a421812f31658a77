// A server for the `wrk` comparison of bench/compare.ts, in its own process
// so that the load generator and the server each get a core:
//
//   deno run --allow-net=127.0.0.1 bench/_wrk_server.ts fake|bare
//
// prints the port it listens on, then serves until stdin closes.
//
// - `fake`: `FakeAccountsServer.listen()`, answering client-credentials
//   grants with all its checks;
// - `bare`: `Deno.serve` returning a fixed token body with the same headers,
//   the ceiling any server on `Deno.serve` can reach.

import { FakeAccountsServer } from "../testing/mod.ts";

const BODY = JSON.stringify({
  access_token: "fake-access-1",
  token_type: "Bearer",
  expires_in: 3600,
});

async function main(mode: string | undefined): Promise<void> {
  let stop: () => Promise<void>;
  if (mode === "fake") {
    const server = new FakeAccountsServer();
    const url = new URL(await server.listen());
    console.log(url.port);
    stop = () => server.close();
  } else if (mode === "bare") {
    const server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () =>
        new Response(BODY, {
          headers: {
            "content-type": "application/json",
            "cache-control": "no-store",
            "pragma": "no-cache",
            "access-control-allow-origin": "*",
          },
        }),
    );
    console.log(server.addr.port);
    stop = () => server.shutdown();
  } else {
    throw new TypeError(`usage: _wrk_server.ts fake|bare, got ${mode}`);
  }
  for await (const _ of Deno.stdin.readable) {
    // Runs until the parent closes stdin.
  }
  await stop();
}

if (import.meta.main) await main(Deno.args[0]);
