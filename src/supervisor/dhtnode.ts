/**
 * @module The supervised OpenDHT bootstrap node (`dhtnode`, Debian package `dhtnode`).
 *
 * dhtnode 2.4.12 runs in the foreground with stdin a pipe: it reads console commands from
 * stdin and exits when the pipe closes, so it dies with the appliance. `-d` is never used
 * because the daemonized process escapes supervision. It listens on all addresses (it has no
 * bind option) and keeps no state on disk, so its state folder is only its working directory.
 */
import { mkdirSync } from "node:fs";
import type { ChildSpec } from "./child.ts";
import { probeDhtNode } from "./probes.ts";

/** Settings of the supervised DHT node. */
export interface DhtSettings {
  enabled: boolean;
  binary: string;
  /** UDP port of the node. */
  port: number;
  /**
   * OpenDHT network id (`-n`). jamid 13.7.0 has no account setting for it and always joins
   * network 0, so a node that Jami clients bootstrap from must use 0.
   */
  networkId: number;
  extraArgs: string[];
  stateDir: string;
}

export function dhtNodeSpec(settings: DhtSettings): ChildSpec {
  return {
    name: "dhtnode",
    binary: settings.binary,
    debianPackage: "dhtnode",
    args: ["-p", String(settings.port), "-n", String(settings.networkId), ...settings.extraArgs],
    cwd: settings.stateDir,
    udpPort: { host: "0.0.0.0", port: settings.port },
    parentDeath: "stdin",
    // dhtnode keeps nothing to flush, and after "Stopping node..." its shutdown outlived a 5 s
    // grace period in tests once a peer had contacted it, so it gets a short one.
    stopGraceMs: 1_000,
    prepare: () => {
      mkdirSync(settings.stateDir, { recursive: true, mode: 0o700 });
    },
    probe: async (timeoutMs) => `node ${await probeDhtNode("127.0.0.1", settings.port, settings.networkId, timeoutMs)} responded to a ping`,
  };
}
