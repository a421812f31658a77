// close() over HTTP is bounded (issue 16, item 1): a client that sends a
// request head and never its body, or never reads the answer, cannot hold
// it open.

import assert from "node:assert/strict";
import { FakeAccountsServer } from "./mod.ts";
import { BASIC } from "./_test_helpers.ts";

const encoder = new TextEncoder();

/** A server whose clock tells when a request has reached its handler. */
function serverWithArrivals(): {
  server: FakeAccountsServer;
  arrived: Promise<void>;
} {
  const { promise, resolve } = Promise.withResolvers<void>();
  const server = new FakeAccountsServer({
    clock: {
      now() {
        resolve(); // requests are stamped with the clock when they arrive
        return Date.now();
      },
    },
  });
  return { server, arrived: promise };
}

/** Resolves `"closed"` when `close()` does, `"stuck"` after `ms`. */
async function closeWithin(
  server: FakeAccountsServer,
  ms: number,
): Promise<"closed" | "stuck"> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const stuck = new Promise<"stuck">((resolve) => {
    timer = setTimeout(() => resolve("stuck"), ms);
  });
  try {
    return await Promise.race([
      server.close().then(() => "closed" as const),
      stuck,
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** Reads until the server closes the connection; the bytes received. */
async function readUntilClosed(conn: Deno.Conn): Promise<number> {
  const buffer = new Uint8Array(64 * 1024);
  let total = 0;
  try {
    for (;;) {
      const read = await conn.read(buffer);
      if (read === null) return total;
      total += read;
    }
  } catch (error) {
    // A cut connection may also be reported as reset.
    if (error instanceof Deno.errors.ConnectionReset) return total;
    throw error;
  }
}

Deno.test("close() cuts a client that sent Content-Length: 10 and never the body", async () => {
  const { server, arrived } = serverWithArrivals();
  await server.listen();
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number(new URL(server.url).port),
  });
  try {
    await conn.write(encoder.encode(
      "POST /api/token HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
        `Authorization: ${BASIC}\r\n` +
        "Content-Type: application/x-www-form-urlencoded\r\n" +
        "Content-Length: 10\r\n\r\n",
    ));
    await arrived; // the handler is now waiting for the body
    assert.equal(await closeWithin(server, 5_000), "closed");
    assert.equal(await readUntilClosed(conn), 0); // cut, never answered
    assert.equal(server.requests[0].status, 0);
  } finally {
    conn.close();
  }
});

Deno.test("close() is not held by a client that never reads its answers", async () => {
  const { server, arrived } = serverWithArrivals();
  // Each answer of a "network" fault is a ~360 KiB response head: a few of
  // them fill the socket buffers of a client that does not read.
  server.failNext("network", { times: Infinity });
  await server.listen();
  const conn = await Deno.connect({
    hostname: "127.0.0.1",
    port: Number(new URL(server.url).port),
  });
  try {
    const request = "POST /api/token HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
      "Content-Type: application/x-www-form-urlencoded\r\n" +
      "Content-Length: 29\r\n\r\ngrant_type=client_credentials";
    await conn.write(encoder.encode(request.repeat(64)));
    await arrived;
    assert.equal(await closeWithin(server, 5_000), "closed");
  } finally {
    conn.close();
  }
});

Deno.test("close() still lets an answer in progress finish", async () => {
  const { server, arrived } = serverWithArrivals();
  server.failNext({ delayMs: 20 });
  await server.listen();
  const pending = fetch(`${server.url}/api/token`, {
    method: "POST",
    headers: { authorization: BASIC },
    body: new URLSearchParams({ grant_type: "client_credentials" }),
  });
  await arrived; // the request is inside its delay
  await server.close();
  const response = await pending;
  assert.equal(response.status, 200);
  assert.equal((await response.json()).access_token, "fake-access-1");
});

Deno.test("close() with idle keep-alive connections returns at once, and listen() works again", async () => {
  const server = new FakeAccountsServer();
  await server.listen();
  const response = await fetch(`${server.url}/v1/me`);
  await response.body?.cancel();
  await server.close();
  await server.listen();
  const again = await fetch(`${server.url}/v1/me`);
  assert.equal(again.status, 401);
  await again.body?.cancel();
  await server.close();
});
