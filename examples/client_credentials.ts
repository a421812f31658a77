// Get an app token from the real Spotify and call a public endpoint.
//
//   deno run --env-file=.env \
//     --allow-env=SPOTIFY_SDK_CLIENT_ID,SPOTIFY_SDK_CLIENT_SECRET \
//     --allow-net=accounts.spotify.com,api.spotify.com \
//     examples/client_credentials.ts
//
// `.env` holds SPOTIFY_SDK_CLIENT_ID=… and SPOTIFY_SDK_CLIENT_SECRET=… from
// https://developer.spotify.com/dashboard. App tokens cannot read /v1/me.

import {
  ClientCredentials,
  createAuthorizedFetch,
  SpotifyAuthError,
} from "@spotify-sdk/auth";

await using auth = new ClientCredentials();
const spotify = createAuthorizedFetch(auth);

try {
  const response = await spotify(
    "https://api.spotify.com/v1/search?q=daft+punk&type=artist&limit=1",
  );
  const body = await response.json();
  console.log(
    `HTTP ${response.status}:`,
    body.artists?.items?.[0]?.name ?? body,
  );
} catch (error) {
  if (error instanceof SpotifyAuthError) {
    console.error(`Spotify said no (${error.code}): ${error.message}`);
    Deno.exit(1);
  }
  throw error;
}
