import { FakeAccountsServer } from "./mod.ts";

const TOKEN_URL = "https://accounts.spotify.com/api/token";
const BASIC = `Basic ${btoa("test-client-id:test-client-secret")}`;
const GRANTS_PER_ITERATION = 1_000;

const inProcess = new FakeAccountsServer();

Deno.bench({
  name:
    `in-process client_credentials grants (x${GRANTS_PER_ITERATION}, body read as JSON)`,
  group: "grants",
  baseline: true,
  async fn() {
    inProcess.reset(); // keeps the request log from growing without bound
    for (let index = 0; index < GRANTS_PER_ITERATION; index++) {
      const response = await inProcess.fetch(TOKEN_URL, {
        method: "POST",
        headers: {
          authorization: BASIC,
          "content-type": "application/x-www-form-urlencoded",
        },
        body: "grant_type=client_credentials",
      });
      await response.json();
    }
  },
});

Deno.bench({
  name:
    `in-process grants with a URLSearchParams body (x${GRANTS_PER_ITERATION})`,
  group: "grants",
  async fn() {
    inProcess.reset();
    for (let index = 0; index < GRANTS_PER_ITERATION; index++) {
      const response = await inProcess.fetch(TOKEN_URL, {
        method: "POST",
        headers: { authorization: BASIC },
        body: new URLSearchParams({ grant_type: "client_credentials" }),
      });
      await response.json();
    }
  },
});

const listening = new FakeAccountsServer();

Deno.bench({
  name: "listen() + close()",
  async fn() {
    await listening.listen();
    await listening.close();
  },
});
