/**
 * One headless Chromium for a test file, driven with `puppeteer-core` (tests
 * only: the module itself has no dependencies). Chromium comes from the
 * system (`apt-get install -y chromium`; `.ci/run` installs it); when it is
 * missing, {@linkcode launchChromium} throws, so browser tests fail loudly
 * instead of passing without having run.
 *
 * @module
 */

// Tests only (the module has no dependencies), pinned here, in one place.
// deno-lint-ignore no-import-prefix
import puppeteer, { type Browser, type Page } from "npm:puppeteer-core@25.16.0";

export type { Browser, Page };

/** A running Chromium; `close()` (or `await using`) ends it. */
export interface LaunchedChromium extends AsyncDisposable {
  /** The puppeteer handle: `browser.newPage()`, `browser.createBrowserContext()`. */
  readonly browser: Browser;
  /** Closes every page and ends the Chromium process and its temp profile. */
  close(): Promise<void>;
}

const EXECUTABLE_NAMES = ["chromium", "chromium-browser", "google-chrome"];

/**
 * The path of the first Chromium on `PATH` (`chromium`, `chromium-browser`,
 * `google-chrome`), or `undefined`.
 */
export function findChromium(): string | undefined {
  const path = Deno.env.get("PATH") ?? "/usr/bin:/bin";
  for (const directory of path.split(":")) {
    if (directory === "") continue;
    for (const name of EXECUTABLE_NAMES) {
      const candidate = `${directory}/${name}`;
      try {
        const info = Deno.statSync(candidate);
        if (info.isFile && ((info.mode ?? 0o111) & 0o111) !== 0) {
          return candidate;
        }
      } catch {
        // Not there: try the next one.
      }
    }
  }
  return undefined;
}

/**
 * Starts headless Chromium (the one on `PATH`) under puppeteer.
 *
 * @throws {Error} "Chromium not found: apt-get install -y chromium" when no
 * Chromium is on `PATH`.
 */
export async function launchChromium(): Promise<LaunchedChromium> {
  const executablePath = findChromium();
  if (executablePath === undefined) {
    throw new Error(
      `Chromium not found: apt-get install -y chromium (looked for ${
        EXECUTABLE_NAMES.join(", ")
      } on PATH)`,
    );
  }
  const browser = await puppeteer.launch({
    executablePath,
    headless: true,
    // The DevTools protocol over pipes, not a WebSocket: nothing listens.
    pipe: true,
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-dev-shm-usage",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
    // puppeteer's own SIGINT/SIGTERM/exit handlers would outlive the test.
    handleSIGINT: false,
    handleSIGTERM: false,
    handleSIGHUP: false,
  });
  let closed: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closed ??= browser.close();
    return closed;
  };
  return { browser, close, [Symbol.asyncDispose]: close };
}
