// The helpers the hardening tests share must report a planted bug as one
// failing test, never as an uncaught error that cancels the whole file.

import assert from "node:assert/strict";
import { inBackground, rejection } from "./_grants.ts";

const nextTask = () => new Promise((resolve) => setTimeout(resolve, 0));

Deno.test("rejection() resolves with what the promise rejected with", async () => {
  const reason = new Error("refused");
  assert.equal(await rejection(Promise.reject(reason)), reason);
});

Deno.test("rejection() of a promise that resolves fails at the test's await, not as an uncaught error", async () => {
  const pending = rejection(Promise.resolve("token-value"));
  // The test is busy elsewhere while the unexpected resolution happens.
  await nextTask();
  await assert.rejects(pending, (error: Error) => {
    assert.match(error.message, /expected a rejection/);
    assert.ok(!error.message.includes("token-value"), "the value is shown");
    return true;
  });
});

Deno.test("inBackground() keeps a later-awaited failure from becoming an uncaught error", async () => {
  const failing = inBackground(Promise.reject(new Error("planted bug")));
  await nextTask();
  await assert.rejects(failing, /planted bug/);
});
