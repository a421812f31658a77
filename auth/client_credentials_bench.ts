// Cached getAccessToken() against the cost floor: awaiting a stored string.
//   deno bench auth/client_credentials_bench.ts
import { ClientCredentials } from "../mod.ts";

const tokenResponse = () =>
  Promise.resolve(
    Response.json({
      access_token: "bench-token",
      token_type: "Bearer",
      expires_in: 3600,
    }),
  );

const auth = new ClientCredentials({
  clientId: "bench-client",
  clientSecret: "bench-secret",
  fetch: tokenResponse,
});
await auth.getAccessToken();
const stored: string = "bench-token";

Deno.bench("await a stored string (baseline)", {
  group: "cached",
  baseline: true,
}, async () => {
  await stored;
});

Deno.bench("ClientCredentials.getAccessToken() cached, in-memory cache", {
  group: "cached",
}, async () => {
  await auth.getAccessToken();
});

Deno.bench(
  "10 000 concurrent cold getAccessToken() calls",
  { n: 20 },
  async () => {
    let requests = 0;
    await using cold = new ClientCredentials({
      clientId: "bench-client",
      clientSecret: "bench-secret",
      fetch: () => {
        requests++;
        return tokenResponse();
      },
    });
    await Promise.all(
      Array.from({ length: 10_000 }, () => cold.getAccessToken()),
    );
    if (requests !== 1) {
      throw new Error(
        `expected 1 token request, made ${requests}`,
      );
    }
  },
);
