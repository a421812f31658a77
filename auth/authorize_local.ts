/**
 * Loopback login for CLIs (placeholder until the implementation lands).
 *
 * @module
 */

import type { AuthorizationCode } from "./authorization_code.ts";
import type { TokenInfo } from "./token.ts";

/** Options of {@linkcode authorizeLocal}. */
export interface AuthorizeLocalOptions {
  /**
   * Open the authorize URL in a browser.
   *
   * @default {true}
   */
  openBrowser?: boolean;
  /** Called with the authorize URL. */
  onAuthorizationUrl?: (url: string) => void | Promise<void>;
  /**
   * Give up after this many milliseconds.
   *
   * @default {300_000}
   */
  timeoutMs?: number;
  /** Abort the login. */
  signal?: AbortSignal;
  /**
   * Force Spotify's consent page.
   *
   * @default {false}
   */
  showDialog?: boolean;
  /** The CSRF state. */
  state?: string;
}

/**
 * Runs the authorization code flow for a CLI through a loopback server.
 *
 * @param auth The provider.
 * @param options Options.
 * @returns The token.
 */
export function authorizeLocal(
  auth: AuthorizationCode,
  options: AuthorizeLocalOptions = {},
): Promise<TokenInfo> {
  void auth;
  void options;
  return Promise.reject(new Error("authorizeLocal is not implemented yet"));
}
