// What our own providers tell the package's adapters and nothing else: a
// registry keyed by provider, invisible in the public types (a symbol-keyed
// method would show up in the classes' docs), so adapters such as
// toSpotifyApiAuth() can report a token's expiry by the provider's own clock
// without widening the AuthProvider interface.

import type { TokenInfo } from "./token.ts";

/** A current access token with its expiry, read by the provider's clock. */
export interface TokenDetails {
  /** The access token, exactly as `getAccessToken()` would return it. */
  readonly accessToken: string;
  /** When the token expires, Unix seconds (may be fractional). */
  readonly expiresAt: number;
  /** The provider clock's now, in milliseconds. */
  readonly nowMs: number;
}

/** Get-or-refresh like `getAccessToken()`: same single-flight, cache, errors. */
export type ReadTokenDetails = () => Promise<TokenDetails>;

const sources = new WeakMap<object, ReadTokenDetails>();

/** Called by our providers' constructors. */
export function registerTokenDetails(
  provider: object,
  read: ReadTokenDetails,
): void {
  sources.set(provider, read);
}

/** Whether `provider` is one of ours that reports token details. */
export function hasTokenDetails(provider: unknown): boolean {
  return typeof provider === "object" && provider !== null &&
    sources.has(provider);
}

/** The token details of one of our providers (see hasTokenDetails). */
export function readTokenDetails(provider: object): Promise<TokenDetails> {
  const read = sources.get(provider);
  if (read === undefined) {
    return Promise.reject(
      new TypeError("readTokenDetails() needs one of the package's providers"),
    );
  }
  return read();
}

/** Stores a token obtained elsewhere as this provider's own (a sign-in). */
export type AdoptToken = (token: TokenInfo) => Promise<void>;

const adopters = new WeakMap<object, AdoptToken>();

/** Called by AuthorizationCode's constructor. */
export function registerTokenAdopter(
  provider: object,
  adopt: AdoptToken,
): void {
  adopters.set(provider, adopt);
}

/**
 * Makes `token` (from a code exchange another instance made for the same
 * callback) the provider's token, in memory and in its cache. Providers that
 * are not ours are left alone.
 */
export async function adoptToken(
  provider: object,
  token: TokenInfo,
): Promise<void> {
  await adopters.get(provider)?.(token);
}
