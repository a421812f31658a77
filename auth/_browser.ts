// Opening the user's browser. Never fatal: when it fails, the caller still
// shows the URL, and says why the browser did not open.

/** The outcome of trying to open a browser. */
export type BrowserOpenResult =
  | { readonly opened: true; readonly command: string }
  | { readonly opened: false; readonly reason: string };

/**
 * The command that opens `url`: `$BROWSER` when given (its first entry; `%s`
 * stands for the URL, else the URL is the last argument), else the
 * platform's opener.
 */
export function browserCommand(
  url: string,
  os: string,
  browserVariable: string | undefined,
): { command: string; args: string[] } {
  const entry = browserVariable
    ?.split(os === "windows" ? ";" : ":")
    .map((part) => part.trim())
    .find((part) => part !== "");
  if (entry !== undefined) {
    const [command, ...rest] = entry.split(/\s+/);
    const args = rest.some((arg) => arg.includes("%s"))
      ? rest.map((arg) => arg.replaceAll("%s", url))
      : [...rest, url];
    return { command, args };
  }
  switch (os) {
    case "darwin":
      return { command: "open", args: [url] };
    case "windows":
      // `start` is a cmd built-in; its first quoted argument is a window
      // title, and cmd would split the URL at `&` unless it is escaped.
      return {
        command: "cmd",
        args: ["/c", "start", "", url.replaceAll("&", "^&")],
      };
    default:
      return { command: "xdg-open", args: [url] };
  }
}

/**
 * Starts the browser on `url` without waiting for it to exit. Asks for no
 * permission: without `--allow-run` (or `--allow-env=BROWSER` for
 * `$BROWSER`) it reports why instead of prompting.
 */
export function openBrowser(url: string): BrowserOpenResult {
  const { command, args } = browserCommand(
    url,
    Deno.build.os,
    readBrowserVariable(),
  );
  const flag = `--allow-run=${command}`;
  let permission: Deno.PermissionState;
  try {
    permission = Deno.permissions.querySync({ name: "run", command }).state;
  } catch {
    permission = "denied";
  }
  if (permission !== "granted") {
    return {
      opened: false,
      reason: `run Deno with ${flag} to let it open your browser`,
    };
  }
  try {
    const child = new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    // The browser may outlive the login; do not keep this process alive for it.
    child.unref();
    child.status.catch(() => {});
    return { opened: true, command };
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) {
      return {
        opened: false,
        reason: `"${command}" was not found${
          command === "xdg-open" ? " (install xdg-utils or set $BROWSER)" : ""
        }`,
      };
    }
    if (
      error instanceof Deno.errors.NotCapable ||
      error instanceof Deno.errors.PermissionDenied
    ) {
      return {
        opened: false,
        reason: `run Deno with ${flag} to let it open your browser`,
      };
    }
    return {
      opened: false,
      reason: `"${command}" could not be started: ${
        error instanceof Error ? error.message : String(error)
      }`,
    };
  }
}

function readBrowserVariable(): string | undefined {
  try {
    // Only read when granted: reading would otherwise prompt the user.
    const state =
      Deno.permissions.querySync({ name: "env", variable: "BROWSER" }).state;
    if (state !== "granted") return undefined;
    const value = Deno.env.get("BROWSER");
    return value === "" ? undefined : value;
  } catch {
    return undefined;
  }
}
