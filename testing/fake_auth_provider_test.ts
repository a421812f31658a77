import assert from "node:assert/strict";
import { FakeAuthProvider } from "./mod.ts";

Deno.test("FakeAuthProvider returns 'fake-access-token' by default", async () => {
  const provider = new FakeAuthProvider();
  assert.equal(await provider.getAccessToken(), "fake-access-token");
});

Deno.test("FakeAuthProvider returns a fixed token and counts calls", async () => {
  const provider = new FakeAuthProvider("fixed");
  assert.equal(await provider.getAccessToken(), "fixed");
  assert.equal(await provider.getAccessToken(), "fixed");
  assert.equal(provider.calls, 2);
});

Deno.test("FakeAuthProvider returns tokens in order, then repeats the last one", async () => {
  const provider = new FakeAuthProvider(["one", "two"]);
  const tokens = [];
  for (let index = 0; index < 4; index++) {
    tokens.push(await provider.getAccessToken());
  }
  assert.deepEqual(tokens, ["one", "two", "two", "two"]);
});

Deno.test("FakeAuthProvider rejects getAccessToken() after close()", async () => {
  const provider = new FakeAuthProvider();
  assert.equal(provider.closed, false);
  provider.close();
  assert.equal(provider.closed, true);
  await assert.rejects(provider.getAccessToken(), /closed/);
});

Deno.test("FakeAuthProvider is closed by await using", async () => {
  let outside: FakeAuthProvider;
  {
    await using provider = new FakeAuthProvider();
    outside = provider;
  }
  assert.equal(outside.closed, true);
});

Deno.test("FakeAuthProvider rejects an empty token list or empty tokens with TypeError", () => {
  assert.throws(() => new FakeAuthProvider([]), TypeError);
  assert.throws(() => new FakeAuthProvider(""), TypeError);
});
