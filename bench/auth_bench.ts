// `deno bench` view of issue [F]'s measures (bench/compare.ts prints the
// same comparisons as a Markdown table, with token request counts).

import { ClientCredentials } from "../mod.ts";
import { FakeAccountsServer } from "../testing/mod.ts";
import {
  CLIENT_ID,
  CLIENT_SECRET,
  clientCredentialsInit,
  officialSdkColdRequests,
  ourColdRequests,
  startFakeServer,
  startOauth2MockServer,
  STORED_TOKEN,
  warmProviders,
} from "./_fixtures.ts";

const providers = await warmProviders();
const fake = await startFakeServer();
const mock = await startOauth2MockServer();
globalThis.addEventListener("unload", () => {
  // Best effort: the process is ending anyway.
  providers.dispose();
  overFake.close();
  overMock.close();
  fake.stop();
  mock.stop();
});
const stored: Promise<string> | string = STORED_TOKEN;

Deno.bench("await a stored string", {
  group: "cached getAccessToken()",
  baseline: true,
}, async () => {
  await stored;
});
Deno.bench(
  "in-memory cache",
  { group: "cached getAccessToken()" },
  async () => {
    await providers.memory.getAccessToken();
  },
);
Deno.bench("FileTokenCache", { group: "cached getAccessToken()" }, async () => {
  await providers.file.getAccessToken();
});
Deno.bench("KvTokenCache", { group: "cached getAccessToken()" }, async () => {
  await providers.kv.getAccessToken();
});

Deno.bench("ours: 10 000 cold calls (1 token request)", {
  group: "10 000 concurrent cold calls",
  baseline: true,
  n: 20,
}, async () => {
  const requests = await ourColdRequests(10_000);
  if (requests !== 1) throw new Error(`made ${requests} token requests`);
});
Deno.bench("@spotify/web-api-ts-sdk: 10 000 cold calls", {
  group: "10 000 concurrent cold calls",
  n: 20,
}, async () => {
  await officialSdkColdRequests(10_000);
});

const server = new FakeAccountsServer();
const tokenUrl = "https://accounts.spotify.com/api/token";
const init = clientCredentialsInit();
Deno.bench("fake server: one in-process client-credentials grant", async () => {
  await (await server.fetch(tokenUrl, init)).text();
});

Deno.bench("fake server: listen() + close()", async () => {
  const listening = new FakeAccountsServer();
  await listening.listen();
  await listening.close();
});

const overFake = new ClientCredentials({
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  accountsUrl: fake.url,
});
const overMock = new ClientCredentials({
  clientId: CLIENT_ID,
  clientSecret: CLIENT_SECRET,
  accountsUrl: mock.url,
});
Deno.bench("FakeAccountsServer: one grant over loopback HTTP", {
  group: "loopback HTTP client-credentials grant",
  baseline: true,
}, async () => {
  await overFake.getAccessToken({ forceRefresh: true });
});
Deno.bench("oauth2-mock-server: one grant over loopback HTTP", {
  group: "loopback HTTP client-credentials grant",
}, async () => {
  await overMock.getAccessToken({ forceRefresh: true });
});
