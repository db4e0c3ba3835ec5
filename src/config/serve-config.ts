/**
 * @module Settings of the `serve` command, from built-in defaults < a JSON config file <
 * `JAMS_*` environment variables < command-line flags, validated once into a frozen object.
 * This is the only module that reads the environment.
 */
import { readFileSync } from "node:fs";
import { z } from "zod";

/** A boolean setting: JSON true/false, or the strings true, false, 1, 0, yes, no. */
const booleanSetting = z
  .union([z.boolean(), z.enum(["true", "false", "1", "0", "yes", "no"])])
  .transform((value) => value === true || value === "true" || value === "1" || value === "yes");

/** Builds a list setting: a JSON array of strings, or one string split on `separator`. */
function listSetting(separator: RegExp) {
  return z
    .union([z.string(), z.array(z.string())])
    .transform((value) => (typeof value === "string" ? value.split(separator).filter(Boolean) : value));
}

const portSetting = z.coerce.number().int().min(1).max(65535);

const serveConfigSchema = z
  .object({
    host: z.string().min(1),
    port: z.coerce
      .number({ message: "must be a port number from 1 to 65535" })
      .int({ message: "must be a port number from 1 to 65535" })
      .min(1, { message: "must be a port number from 1 to 65535" })
      .max(65535, { message: "must be a port number from 1 to 65535" }),
    dataDir: z.string().min(1),
    certFile: z.string().min(1).optional(),
    keyFile: z.string().min(1).optional(),
    keyPassphraseFile: z.string().min(1).optional(),
    logLevel: z.enum(["debug", "info", "warn", "error"]),
    // The supervised DHT node and TURN server. Both are off unless enabled.
    publicHost: z.string().min(1).regex(/^[^\s/:]+$|^[0-9a-fA-F:]+$/, "a host name or IP address without port").optional(),
    dhtEnabled: booleanSetting.default(false),
    dhtBinary: z.string().min(1).default("dhtnode"),
    dhtPort: portSetting.default(4222),
    dhtNetworkId: z.coerce.number().int().min(0).max(0xffff_ffff).default(0),
    dhtExtraArgs: listSetting(/\s+/).default([]),
    turnEnabled: booleanSetting.default(false),
    turnBinary: z.string().min(1).default("turnserver"),
    turnListenAddress: z.string().min(1).default("0.0.0.0"),
    turnPort: portSetting.default(3478),
    turnRealm: z.string().min(1).default("jams"),
    turnRelayPortMin: portSetting.default(49160),
    turnRelayPortMax: portSetting.default(49200),
    turnSecretFile: z.string().min(1).optional(),
    turnAllowedPeerIps: listSetting(/[\s,]+/).default([]),
    turnExtraArgs: listSetting(/\s+/).default([]),
    turnCredentialLifetimeSeconds: z.coerce.number().int().min(60).max(30 * 86_400).default(86_400),
  })
  .strict();

export type ServeConfig = Readonly<z.output<typeof serveConfigSchema>> & {
  /** The config file that was read, if any. */
  readonly configFile?: string;
};

export type ServeOverrides = Partial<Record<keyof z.input<typeof serveConfigSchema>, string | number | boolean | string[]>>;

/** Environment variable for each setting. */
export const envNames: Record<keyof ServeOverrides, string> = {
  host: "JAMS_HOST",
  port: "JAMS_PORT",
  dataDir: "JAMS_DATA_DIR",
  certFile: "JAMS_CERT_FILE",
  keyFile: "JAMS_KEY_FILE",
  keyPassphraseFile: "JAMS_KEY_PASSPHRASE_FILE",
  logLevel: "JAMS_LOG_LEVEL",
  publicHost: "JAMS_PUBLIC_HOST",
  dhtEnabled: "JAMS_DHT_ENABLED",
  dhtBinary: "JAMS_DHT_BINARY",
  dhtPort: "JAMS_DHT_PORT",
  dhtNetworkId: "JAMS_DHT_NETWORK_ID",
  dhtExtraArgs: "JAMS_DHT_EXTRA_ARGS",
  turnEnabled: "JAMS_TURN_ENABLED",
  turnBinary: "JAMS_TURN_BINARY",
  turnListenAddress: "JAMS_TURN_LISTEN_ADDRESS",
  turnPort: "JAMS_TURN_PORT",
  turnRealm: "JAMS_TURN_REALM",
  turnRelayPortMin: "JAMS_TURN_RELAY_PORT_MIN",
  turnRelayPortMax: "JAMS_TURN_RELAY_PORT_MAX",
  turnSecretFile: "JAMS_TURN_SECRET_FILE",
  turnAllowedPeerIps: "JAMS_TURN_ALLOWED_PEER_IPS",
  turnExtraArgs: "JAMS_TURN_EXTRA_ARGS",
  turnCredentialLifetimeSeconds: "JAMS_TURN_CREDENTIAL_LIFETIME_SECONDS",
};

/** Error in the configuration, reported on one line. */
export class ConfigError extends Error {
  override name = "ConfigError";
}

/** Built-in defaults. systemd's `StateDirectory=` sets STATE_DIRECTORY, which wins over `./data`. */
export function defaultServeConfig(env: Record<string, string | undefined>): ServeOverrides {
  return { host: "127.0.0.1", port: 8443, dataDir: env.STATE_DIRECTORY ?? "data", logLevel: "info" };
}

/** Reads the environment variables that are set. */
function fromEnv(env: Record<string, string | undefined>): ServeOverrides {
  const values: ServeOverrides = {};
  for (const [key, name] of Object.entries(envNames) as [keyof ServeOverrides, string][]) {
    const value = env[name];
    if (value !== undefined && value !== "") values[key] = value;
  }
  return values;
}

function fromFile(path: string): ServeOverrides {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (error) {
    throw new ConfigError(`--config ${path}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("not an object");
    return value as ServeOverrides;
  } catch (error) {
    throw new ConfigError(`--config ${path}: not a JSON object (${(error as Error).message})`);
  }
}

/**
 * Merges the sources and validates them. `defaults` lets a command change a default (the JAMS
 * launcher form listens on all addresses) without outranking the file or the environment.
 */
export function loadServeConfig(input: {
  flags: ServeOverrides;
  configFile?: string;
  env: Record<string, string | undefined>;
  defaults?: ServeOverrides;
}): ServeConfig {
  const configFile = input.configFile ?? input.env.JAMS_CONFIG;
  const merged = {
    ...defaultServeConfig(input.env),
    ...input.defaults,
    ...(configFile ? fromFile(configFile) : {}),
    ...fromEnv(input.env),
    ...dropUndefined(input.flags),
  };
  const result = serveConfigSchema.safeParse(merged);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const key = String(issue.path[0] ?? "");
    const where = issue.code === "unrecognized_keys" ? `config file ${configFile}` : `setting ${key}`;
    throw new ConfigError(`invalid ${where}: ${issue.message}`);
  }
  return Object.freeze({ ...result.data, configFile });
}

function dropUndefined(values: ServeOverrides): ServeOverrides {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
}
