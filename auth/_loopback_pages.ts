// The pages the loopback server answers the browser with. They are constant:
// nothing from the request (code, state, error text) is ever echoed, so no
// page can leak a secret or carry injected markup. No external resources, so
// the callback URL (with its code) is never sent anywhere as a Referer.

/** Which page to send. */
export type LoopbackPage =
  | "success"
  | "denied"
  | "failed"
  | "state_mismatch"
  | "already_handled"
  | "not_found"
  | "method_not_allowed"
  | "bad_host"
  | "bad_request"
  | "too_large"
  | "error";

const PAGES: Record<
  LoopbackPage,
  { status: number; title: string; message: string }
> = {
  success: {
    status: 200,
    title: "Logged in to Spotify",
    message:
      "You are logged in. You can close this tab and return to the terminal.",
  },
  denied: {
    status: 400,
    title: "Spotify login cancelled",
    message:
      "The app was not authorized. You can close this tab; run the login again in the terminal to retry.",
  },
  failed: {
    status: 502,
    title: "Spotify login failed",
    message:
      "The login could not be completed. You can close this tab; the terminal shows what went wrong.",
  },
  state_mismatch: {
    status: 400,
    title: "Unexpected Spotify callback",
    message:
      "This request does not belong to the login in progress, so it was ignored. Use the link the terminal printed to log in.",
  },
  already_handled: {
    status: 409,
    title: "Spotify login already handled",
    message:
      "This login has already been handled. You can close this tab and return to the terminal.",
  },
  not_found: {
    status: 404,
    title: "Not found",
    message: "Nothing is served here.",
  },
  method_not_allowed: {
    status: 405,
    title: "Method not allowed",
    message: "Only GET requests are answered here.",
  },
  bad_host: {
    status: 400,
    title: "Bad request",
    message: "This server only answers requests addressed to it.",
  },
  bad_request: {
    status: 400,
    title: "Bad request",
    message: "This request could not be understood.",
  },
  too_large: {
    status: 431,
    title: "Request too large",
    message: "The request headers are too large.",
  },
  error: {
    status: 500,
    title: "Internal error",
    message:
      "Something went wrong. You can close this tab; the terminal shows what went wrong.",
  },
};

const HEADERS = {
  "content-type": "text/html; charset=utf-8",
  "cache-control": "no-store",
  "content-security-policy":
    "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  "referrer-policy": "no-referrer",
  "x-content-type-options": "nosniff",
} as const;

function render(title: string, message: string): string {
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>body{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;color:#191414}h1{font-size:1.4rem}</style>
</head>
<body>
<h1>${title}</h1>
<p>${message}</p>
</body>
</html>
`;
}

/** Builds the response for `page`; `HEAD` requests get no body. */
export function pageResponse(page: LoopbackPage, method = "GET"): Response {
  const { status, title, message } = PAGES[page];
  return new Response(method === "HEAD" ? null : render(title, message), {
    status,
    headers: HEADERS,
  });
}
