/**
 * @module The supervisor of the appliance's network services: a private OpenDHT bootstrap node
 * and a coturn TURN server, and the account settings that point enrolled devices at them.
 */
import { isIPv6 } from "node:net";
import { logger } from "../log/logger.ts";
import { defaultRestartPolicy, type RestartPolicy } from "./backoff.ts";
import { SupervisedChild, type ChildStatus } from "./child.ts";
import { coturnSpec, issueTurnCredentials, loadTurnSecret, type TurnSettings } from "./coturn.ts";
import { dhtNodeSpec, type DhtSettings } from "./dhtnode.ts";

export type { ChildStatus } from "./child.ts";

const log = logger("supervisor");

/** Settings of the supervisor, from the serve configuration. */
export interface SupervisorSettings {
  dht: DhtSettings;
  turn: TurnSettings;
  /** Host name or address devices use to reach this appliance's DHT node and TURN server. */
  publicHost?: string;
}

/** The part of the supervisor that the HTTP routes use. */
export interface NetworkServices {
  /** Status of each supervised child, in start order. */
  status(): ChildStatus[];
  /** Account settings (scalar strings) that point a device at the DHT node and TURN server. */
  accountSettings(deviceId: string): Record<string, string>;
}

export class Supervisor implements NetworkServices {
  readonly #settings: SupervisorSettings;
  readonly #children: SupervisedChild[] = [];
  readonly #turnSecret: string | undefined;

  /**
   * Prepares the children without starting them. Throws `TurnConfigError` when TURN is enabled
   * and its secret or settings are unusable. A missing binary or a busy port is not an error
   * here: the child reports it later and retries.
   */
  constructor(
    settings: SupervisorSettings,
    options: { policy?: Partial<RestartPolicy>; searchPath?: string; credentialsDirectory?: string } = {},
  ) {
    this.#settings = settings;
    const policy = { ...defaultRestartPolicy, ...options.policy };
    if (settings.dht.enabled) this.#children.push(new SupervisedChild(dhtNodeSpec(settings.dht), policy, options.searchPath));
    if (settings.turn.enabled) {
      this.#turnSecret = loadTurnSecret(settings.turn, options.credentialsDirectory);
      const spec = coturnSpec(settings.turn, this.#turnSecret);
      spec.prepare?.();
      this.#children.push(new SupervisedChild(spec, policy, options.searchPath));
    }
    if (this.#children.length > 0 && !settings.publicHost) {
      log.warn("public host is missing, so enrolled devices do not receive the DHT bootstrap or TURN settings; set --public-host");
    }
  }

  /** Starts every enabled child in the background. */
  start(): void {
    for (const child of this.#children) child.start();
  }

  /** Stops every child: SIGTERM, then SIGKILL after the grace period. */
  async stop(): Promise<void> {
    await Promise.all(this.#children.map((child) => child.stop()));
  }

  status(): ChildStatus[] {
    return this.#children.map((child) => child.status());
  }

  accountSettings(deviceId: string): Record<string, string> {
    const { dht, turn, publicHost } = this.#settings;
    if (!publicHost) return {};
    const host = isIPv6(publicHost) ? `[${publicHost}]` : publicHost;
    const settings: Record<string, string> = {};
    if (dht.enabled) settings["Account.hostname"] = `${host}:${dht.port}`;
    if (turn.enabled && this.#turnSecret) {
      const credentials = issueTurnCredentials(this.#turnSecret, deviceId, turn.credentialLifetimeSeconds);
      settings["TURN.enable"] = "true";
      settings["TURN.server"] = `${host}:${turn.port}`;
      settings["TURN.username"] = credentials.username;
      settings["TURN.password"] = credentials.password;
      settings["TURN.realm"] = turn.realm;
    }
    return settings;
  }
}
