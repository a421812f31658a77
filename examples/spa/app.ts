// The page script of a single-page app that signs users in with Spotify
// (PKCE, no server-side secret): "Log in", the user's profile from /v1/me,
// "Log out". server.ts bundles it for the browser with
// `deno bundle --platform=browser`; `deno task spa --fake` runs it offline.

import { AuthorizationCode, createAuthorizedFetch } from "@spotify-sdk/auth";
import {
  completeBrowserLogin,
  startBrowserLogin,
  WebStorageTokenCache,
} from "@spotify-sdk/auth/browser";

/** What server.ts tells the page (a static app would hard-code it). */
interface SpaConfig {
  clientId: string;
  redirectUri: string;
  /** Leave undefined for Spotify itself. */
  accountsUrl?: string;
  /** `https://api.spotify.com`, or the fake (which answers /v1/me too). */
  webApiUrl: string;
}

// The few DOM pieces used, typed here: Deno's default types have no DOM.
interface PageElement {
  hidden: boolean;
  textContent: string | null;
  addEventListener(type: "click", listener: () => void): void;
}
const { document } = globalThis as unknown as {
  document: { getElementById(id: string): PageElement };
};
const element = (id: string) => document.getElementById(id);

const config: SpaConfig = await (await fetch("/config.json")).json();
const auth = new AuthorizationCode({
  clientId: config.clientId,
  redirectUri: config.redirectUri,
  ...(config.accountsUrl === undefined
    ? {}
    : { accountsUrl: config.accountsUrl }),
  pkce: true,
  scope: "user-read-private",
  // The token survives reloads, and tabs take turns to refresh it.
  tokenCache: new WebStorageTokenCache(),
});
const spotify = createAuthorizedFetch(auth);

function showError(error: unknown): void {
  element("error").textContent = error instanceof Error
    ? error.message
    : String(error);
  element("error").hidden = false;
}

async function render(): Promise<void> {
  let profile: { id: string; display_name: string | null } | undefined;
  try {
    const response = await spotify(`${config.webApiUrl}/v1/me`);
    if (response.ok) profile = await response.json();
  } catch (error) {
    // authorization_required: nobody is signed in (or the sign-in expired).
    if ((error as { code?: string }).code !== "authorization_required") {
      showError(error);
    }
  }
  element("signed-in").hidden = profile === undefined;
  element("signed-out").hidden = profile !== undefined;
  element("display-name").textContent = profile?.display_name ?? "";
  element("user-id").textContent = profile?.id ?? "";
}

element("login").addEventListener("click", () => {
  startBrowserLogin(auth).catch(showError);
});
element("logout").addEventListener("click", () => {
  auth.signOut().then(render, showError);
});

try {
  // On every load: a no-op unless Spotify just redirected back here.
  await completeBrowserLogin(auth);
} catch (error) {
  showError(error); // access_denied, state_mismatch, …
}
await render();
