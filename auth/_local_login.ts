// How AuthorizationCode#authorizeLocal() reaches authorizeLocal() without
// importing it: authorize_local.ts registers itself when it is loaded (always,
// through the package's entry point). A browser bundle that never uses the
// loopback login then leaves its server code out (about 5 KB gzipped).

import type { AuthorizationCode } from "./authorization_code.ts";
import type { AuthorizeLocalOptions } from "./authorize_local.ts";
import type { TokenInfo } from "./token.ts";

/** The signature of {@linkcode authorizeLocal}. */
export type LocalLogin = (
  auth: AuthorizationCode,
  options?: AuthorizeLocalOptions,
) => Promise<TokenInfo>;

let registered: LocalLogin | undefined;

/** Makes `login` the implementation of `auth.authorizeLocal()`. */
export function registerLocalLogin(login: LocalLogin): LocalLogin {
  registered = login;
  return login;
}

/** Runs the registered loopback login. */
export function localLogin(
  auth: AuthorizationCode,
  options?: AuthorizeLocalOptions,
): Promise<TokenInfo> {
  if (registered === undefined) {
    return Promise.reject(
      new TypeError(
        'AuthorizationCode.authorizeLocal() is not part of this bundle: import { authorizeLocal } from "@spotify-sdk/auth" and call authorizeLocal(auth, options)',
      ),
    );
  }
  return registered(auth, options);
}
