import assert from "node:assert/strict";
import {
  createCodeChallenge,
  createCodeVerifier,
  createState,
} from "../mod.ts";

Deno.test("createCodeChallenge() matches the RFC 7636 appendix B vector", async () => {
  assert.equal(
    await createCodeChallenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
    "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
  );
});

Deno.test("createCodeVerifier() makes 43 unreserved characters from 32 random bytes", () => {
  const verifiers = new Set(Array.from({ length: 100 }, createCodeVerifier));
  assert.equal(verifiers.size, 100);
  for (const verifier of verifiers) {
    assert.match(verifier, /^[A-Za-z0-9_-]{43}$/);
  }
});

Deno.test("createState() makes distinct base64url values", () => {
  const a = createState();
  assert.match(a, /^[A-Za-z0-9_-]{43}$/);
  assert.notEqual(a, createState());
});

Deno.test("createCodeChallenge() rejects verifiers RFC 7636 does not allow", async () => {
  for (const bad of ["short", "a".repeat(129), "a".repeat(42) + "!", ""]) {
    await assert.rejects(createCodeChallenge(bad), TypeError);
  }
  assert.match(
    await createCodeChallenge("a".repeat(128)),
    /^[A-Za-z0-9_-]{43}$/,
  );
});
