// What our own providers tell the package's adapters and nothing else: a
// registry keyed by provider, invisible in the public types (a symbol-keyed
// method would show up in the classes' docs), so adapters such as
// toSpotifyApiAuth() can report a token's expiry by the provider's own clock
// without widening the AuthProvider interface.

import type { TokenInfo } from "./token.ts";

/** When a token the provider handed out expires, read by its clock. */
export interface TokenExpiry {
  /** When the token expires, Unix seconds (may be fractional). */
  readonly expiresAt: number;
  /** The provider clock's now, in milliseconds. */
  readonly nowMs: number;
}

/**
 * The expiry of `accessToken` if it is the provider's current token, else
 * `undefined` (a subclass that changed the token, a token replaced since).
 * Makes no request.
 */
export type ReadTokenExpiry = (accessToken: string) => TokenExpiry | undefined;

const sources = new WeakMap<object, ReadTokenExpiry>();

/** Called by our providers' constructors. */
export function registerTokenDetails(
  provider: object,
  read: ReadTokenExpiry,
): void {
  sources.set(provider, read);
}

/**
 * The expiry of `accessToken`, which `provider.getAccessToken()` just
 * returned, when the provider is one of ours and still holds that token.
 */
export function tokenExpiry(
  provider: object,
  accessToken: string,
): TokenExpiry | undefined {
  return sources.get(provider)?.(accessToken);
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
