// What a single-page app ships: AuthorizationCode + createAuthorizedFetch
// (imported from the package root, as users do) + the "./browser" export,
// bundled for the browser with `deno bundle --platform=browser --minify`,
// then gzipped. Target: 12 KB. The figures are printed (with the core alone,
// to show what "./browser" adds); the "≤ 12 KB" bench fails above target.

const TARGET_BYTES = 12 * 1024;

const ROOT = import.meta.resolve("../mod.ts");
const BROWSER = import.meta.resolve("./mod.ts");

const FULL = "AuthorizationCode + createAuthorizedFetch + ./browser";
const ENTRIES: Record<string, string> = {
  [FULL]: `
export { AuthorizationCode, createAuthorizedFetch } from "${ROOT}";
export * from "${BROWSER}";
`,
  "AuthorizationCode + createAuthorizedFetch": `
export { AuthorizationCode, createAuthorizedFetch } from "${ROOT}";
`,
};

interface BundleSize {
  minified: number;
  gzipped: number;
}

/** Bundles `source` (an entry module) for the browser and measures it. */
async function bundleSize(source: string): Promise<BundleSize> {
  const directory = await Deno.makeTempDir({ prefix: "bundle_size_bench_" });
  try {
    const entry = `${directory}/entry.ts`;
    await Deno.writeTextFile(entry, source);
    const output = await new Deno.Command(Deno.execPath(), {
      args: ["bundle", "--quiet", "--platform=browser", "--minify", entry],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).output();
    if (!output.success) {
      throw new Error(
        `deno bundle failed: ${new TextDecoder().decode(output.stderr)}`,
      );
    }
    return {
      minified: output.stdout.byteLength,
      gzipped: await gzippedSize(output.stdout),
    };
  } finally {
    await Deno.remove(directory, { recursive: true });
  }
}

async function gzippedSize(bytes: Uint8Array): Promise<number> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream()
    .pipeThrough(new CompressionStream("gzip"));
  return (await new Response(stream).arrayBuffer()).byteLength;
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const sizes = new Map<string, BundleSize>();
for (const [name, source] of Object.entries(ENTRIES)) {
  const size = await bundleSize(source);
  sizes.set(name, size);
  console.log(
    `${name}: ${kb(size.minified)} minified, ${kb(size.gzipped)} gzipped`,
  );
}

Deno.bench(`${FULL}: minified + gzipped ≤ ${kb(TARGET_BYTES)}`, {
  n: 1,
  warmup: 0,
}, () => {
  const { gzipped } = sizes.get(FULL)!;
  if (gzipped > TARGET_BYTES) {
    throw new Error(
      `the browser bundle is ${kb(gzipped)} gzipped, over the ${
        kb(TARGET_BYTES)
      } target`,
    );
  }
});

Deno.bench(`deno bundle --minify: ${FULL}`, { n: 3, warmup: 0 }, async () => {
  await bundleSize(ENTRIES[FULL]);
});
