/**
 * @module The supervised TURN server (coturn's `turnserver`, Debian package `coturn`): its
 * generated configuration, shared secret and per-device credentials.
 *
 * Devices get time-limited credentials from coturn's shared-secret scheme (`use-auth-secret`):
 * the username is `<expiry unix seconds>:<device id>` and the password is
 * base64(HMAC-SHA1(secret, username)), so coturn checks them without a user database and no
 * password is shared by every device.
 */
import { createHmac, randomBytes } from "node:crypto";
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { ChildSpec } from "./child.ts";
import { probeStun } from "./probes.ts";

/** Settings of the supervised TURN server. */
export interface TurnSettings {
  enabled: boolean;
  binary: string;
  /** Address coturn listens and relays on; `0.0.0.0` for all. */
  listenAddress: string;
  /** STUN/TURN port, UDP and TCP. */
  port: number;
  realm: string;
  relayPortMin: number;
  relayPortMax: number;
  /** File with the shared secret; when unset, one is generated in `stateDir`. */
  secretFile?: string;
  /** Peer addresses or ranges (`a.b.c.d` or `a.b.c.d-e.f.g.h`) relaying is allowed to. */
  allowedPeerIps: string[];
  extraArgs: string[];
  stateDir: string;
  /** Lifetime of the credentials issued to a device, in seconds. */
  credentialLifetimeSeconds: number;
}

/** The shortest shared secret accepted, in characters. */
export const minSecretLength = 16;

/** Error in the TURN settings or secret. */
export class TurnConfigError extends Error {
  override name = "TurnConfigError";
}

/**
 * Reads the shared secret from `secretFile`, else from `$CREDENTIALS_DIRECTORY/turn-secret`
 * (systemd `LoadCredential=`), else from `stateDir/secret`, which is created (0600) if missing.
 */
export function loadTurnSecret(settings: TurnSettings, credentialsDirectory: string | undefined): string {
  let path = settings.secretFile;
  if (!path && credentialsDirectory && existsSync(join(credentialsDirectory, "turn-secret"))) {
    path = join(credentialsDirectory, "turn-secret");
  }
  if (!path) {
    mkdirSync(settings.stateDir, { recursive: true, mode: 0o700 });
    path = join(settings.stateDir, "secret");
    if (!existsSync(path)) writeFileSync(path, randomBytes(32).toString("base64url") + "\n", { mode: 0o600, flag: "wx" });
  }
  let secret: string;
  try {
    secret = readFileSync(path, "utf8").trim();
  } catch (error) {
    throw new TurnConfigError(`cannot read the TURN secret file ${path} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`);
  }
  if (secret.length < minSecretLength || /\s/.test(secret)) {
    throw new TurnConfigError(`the TURN secret in ${path} must be at least ${minSecretLength} characters with no whitespace`);
  }
  return secret;
}

/** Credentials for one device, valid until `expiresAt`. */
export interface TurnCredentials {
  username: string;
  password: string;
  expiresAt: Date;
}

/** Makes coturn shared-secret credentials for `deviceId`, valid `lifetimeSeconds` from `now`. */
export function issueTurnCredentials(secret: string, deviceId: string, lifetimeSeconds: number, now = Date.now()): TurnCredentials {
  const expiry = Math.floor(now / 1000) + lifetimeSeconds;
  const username = `${expiry}:${deviceId}`;
  const password = createHmac("sha1", secret).update(username).digest("base64");
  return { username, password, expiresAt: new Date(expiry * 1000) };
}

/** Link-local and "this network" ranges: no Jami peer lives there, and relaying to them could reach cloud metadata services. */
const deniedPeerRanges = ["0.0.0.0-0.255.255.255", "169.254.0.0-169.254.255.255"];

/**
 * Builds turnserver.conf. Rejects settings coturn cannot run with: both relay transports
 * disabled (coturn 4.6 then has no relay, and Jami's ICE prefers UDP relays anyway).
 */
export function buildTurnConfig(settings: TurnSettings, secret: string): string {
  const flags = new Set(settings.extraArgs.map((arg) => arg.replace(/^-+/, "").split("=")[0]));
  if (flags.has("no-udp-relay") && flags.has("no-tcp-relay")) {
    throw new TurnConfigError("TURN extra arguments disable both UDP and TCP relaying; coturn then has no relay. Remove --no-udp-relay (Jami media prefers UDP)");
  }
  if (settings.relayPortMin > settings.relayPortMax) {
    throw new TurnConfigError(`the TURN relay port range ${settings.relayPortMin}-${settings.relayPortMax} is empty: the minimum is above the maximum`);
  }
  for (const [name, value] of [["realm", settings.realm], ["listen address", settings.listenAddress]] as const) {
    if (/[\s#]/.test(value) || value === "") throw new TurnConfigError(`invalid TURN ${name} ${JSON.stringify(value)}: it must be non-empty with no spaces or '#'`);
  }
  for (const range of settings.allowedPeerIps) {
    if (!/^[0-9a-fA-F.:]+(-[0-9a-fA-F.:]+)?$/.test(range)) throw new TurnConfigError(`invalid TURN allowed peer address or range ${JSON.stringify(range)}`);
  }
  const lines = [
    "# Generated by jams at every start of turnserver; edits are lost.",
    `listening-port=${settings.port}`,
    ...(settings.listenAddress === "0.0.0.0" ? [] : [`listening-ip=${settings.listenAddress}`]),
    `min-port=${settings.relayPortMin}`,
    `max-port=${settings.relayPortMax}`,
    `realm=${settings.realm}`,
    "use-auth-secret",
    `static-auth-secret=${secret}`,
    "fingerprint",
    "no-cli",
    "no-tls",
    "no-dtls",
    "no-multicast-peers",
    ...deniedPeerRanges.map((range) => `denied-peer-ip=${range}`),
    ...settings.allowedPeerIps.map((range) => `allowed-peer-ip=${range}`),
    `userdb=${join(settings.stateDir, "turndb")}`,
    `pidfile=${join(settings.stateDir, "turnserver.pid")}`,
    "log-file=stdout",
    "simple-log",
  ];
  return lines.join("\n") + "\n";
}

export function coturnSpec(settings: TurnSettings, secret: string): ChildSpec {
  const configPath = resolve(settings.stateDir, "turnserver.conf");
  const probeHost = settings.listenAddress === "0.0.0.0" ? "127.0.0.1" : settings.listenAddress;
  return {
    name: "turnserver",
    binary: settings.binary,
    debianPackage: "coturn",
    args: ["-c", configPath, ...settings.extraArgs],
    cwd: settings.stateDir,
    udpPort: { host: settings.listenAddress, port: settings.port },
    parentDeath: "watchdog",
    prepare: () => {
      mkdirSync(settings.stateDir, { recursive: true, mode: 0o700 });
      writeFileSync(configPath, buildTurnConfig(settings, secret), { mode: 0o600 });
      // writeFileSync keeps the mode of an existing file.
      chmodSync(configPath, 0o600);
    },
    probe: async (timeoutMs) => {
      const mapped = await probeStun(probeHost, settings.port, timeoutMs);
      return `STUN binding responded${mapped ? ` (mapped ${mapped})` : ""}`;
    },
  };
}
