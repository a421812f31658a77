/**
 * PKCE (RFC 7636, S256) and `state` values: random strings from
 * `crypto.getRandomValues`, challenges from `crypto.subtle`.
 *
 * @module
 */

import { base64UrlEncode } from "./_encoding.ts";

const encoder = new TextEncoder();

function randomBase64Url(byteLength: number): string {
  return base64UrlEncode(crypto.getRandomValues(new Uint8Array(byteLength)));
}

/**
 * Creates a PKCE code verifier: 32 random bytes, base64url (43 characters).
 *
 * @returns A fresh code verifier.
 *
 * @example
 * ```ts
 * import { createCodeVerifier } from "@spotify-sdk/auth";
 *
 * const verifier = createCodeVerifier();
 * console.log(verifier.length); // 43
 * ```
 */
export function createCodeVerifier(): string {
  return randomBase64Url(32);
}

/**
 * Creates an unguessable OAuth `state` value (CSRF protection): 32 random
 * bytes, base64url.
 *
 * @returns A fresh state value.
 *
 * @example
 * ```ts
 * import { createState } from "@spotify-sdk/auth";
 *
 * const state = createState(); // keep it in the user's session
 * ```
 */
export function createState(): string {
  return randomBase64Url(32);
}

const VERIFIER_PATTERN = /^[A-Za-z0-9\-._~]{43,128}$/;

/**
 * Computes the S256 code challenge of a verifier:
 * `base64url(SHA-256(verifier))` without padding.
 *
 * @param verifier A code verifier of 43–128 characters of `[A-Za-z0-9-._~]`.
 * @returns The code challenge.
 * @throws {TypeError} If `verifier` is not a valid RFC 7636 verifier.
 *
 * @example The RFC 7636 appendix B test vector
 * ```ts
 * import { createCodeChallenge } from "@spotify-sdk/auth";
 *
 * const challenge = await createCodeChallenge(
 *   "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
 * );
 * console.log(challenge); // "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
 * ```
 */
export async function createCodeChallenge(verifier: string): Promise<string> {
  if (typeof verifier !== "string" || !VERIFIER_PATTERN.test(verifier)) {
    throw new TypeError(
      "The PKCE code verifier must be 43-128 characters of A-Z, a-z, 0-9, '-', '.', '_' or '~': create one with createCodeVerifier()",
    );
  }
  const digest = await crypto.subtle.digest(
    "SHA-256",
    encoder.encode(verifier),
  );
  return base64UrlEncode(new Uint8Array(digest));
}
