/** @module Builds the supervisor from the serve configuration. */
import { join, resolve } from "node:path";
import { ConfigError, type ServeConfig } from "../config/serve-config.ts";
import type { RestartPolicy } from "./backoff.ts";
import { TurnConfigError } from "./coturn.ts";
import { Supervisor, type SupervisorSettings } from "./supervisor.ts";

/** Maps the flat `dht*`/`turn*` serve settings to the supervisor's; state lives in DATA_DIR/dht and DATA_DIR/turn. */
export function supervisorSettings(config: ServeConfig): SupervisorSettings {
  // Absolute, because each child runs with its state folder as working directory.
  const dataDir = resolve(config.dataDir);
  return {
    publicHost: config.publicHost,
    dht: {
      enabled: config.dhtEnabled,
      binary: config.dhtBinary,
      port: config.dhtPort,
      networkId: config.dhtNetworkId,
      extraArgs: config.dhtExtraArgs,
      stateDir: join(dataDir, "dht"),
    },
    turn: {
      enabled: config.turnEnabled,
      binary: config.turnBinary,
      listenAddress: config.turnListenAddress,
      port: config.turnPort,
      realm: config.turnRealm,
      relayPortMin: config.turnRelayPortMin,
      relayPortMax: config.turnRelayPortMax,
      secretFile: config.turnSecretFile,
      allowedPeerIps: config.turnAllowedPeerIps,
      extraArgs: config.turnExtraArgs,
      stateDir: join(dataDir, "turn"),
      credentialLifetimeSeconds: config.turnCredentialLifetimeSeconds,
    },
  };
}

/**
 * Builds (without starting) the supervisor. Unusable TURN settings or secret become a
 * `ConfigError`; `env` supplies PATH and systemd's CREDENTIALS_DIRECTORY.
 */
export function createSupervisor(
  config: ServeConfig,
  env: Record<string, string | undefined>,
  policy?: Partial<RestartPolicy>,
): Supervisor {
  try {
    return new Supervisor(supervisorSettings(config), { policy, searchPath: env.PATH, credentialsDirectory: env.CREDENTIALS_DIRECTORY });
  } catch (error) {
    if (error instanceof TurnConfigError) throw new ConfigError(error.message);
    throw error;
  }
}
