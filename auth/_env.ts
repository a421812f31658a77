// Environment fallback for provider options. The only place the core reads
// `Deno`, and only when an option was left out.

interface DenoEnv {
  env: { get(name: string): string | undefined };
}

/** Result of looking up one variable. */
export interface EnvLookup {
  value?: string;
  /** True when the runtime refused access (`--allow-env` not granted). */
  denied: boolean;
}

/** Reads `name` from the environment; never throws. */
export function readEnv(name: string): EnvLookup {
  const deno = (globalThis as { Deno?: DenoEnv }).Deno;
  if (deno?.env === undefined) return { denied: false };
  try {
    const value = deno.env.get(name);
    return { value: value === "" ? undefined : value, denied: false };
  } catch {
    // NotCapable / PermissionDenied: the variable exists or not, we cannot tell.
    return { denied: true };
  }
}

/**
 * Returns `explicit` when given, else the variable `envName`; throws a
 * `TypeError` that says how to supply the value when both are missing.
 */
export function resolveOption(
  owner: string,
  option: string,
  explicit: string | undefined,
  envName: string,
): string {
  if (explicit !== undefined) {
    if (typeof explicit !== "string" || explicit === "") {
      throw new TypeError(
        `${owner}: "${option}" must be a non-empty string`,
      );
    }
    return explicit;
  }
  const { value, denied } = readEnv(envName);
  if (value !== undefined) return value;
  const hint = denied
    ? ` (${envName} could not be read: run Deno with --allow-env=${envName})`
    : "";
  throw new TypeError(
    `${owner}: missing "${option}": pass { ${option} } or set the environment variable ${envName}${hint}`,
  );
}
