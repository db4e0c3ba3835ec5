/** @module `jams serve` and the JAMS launcher form `jams PORT CERT KEY`. */
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { createApp } from "../../api/app.ts";
import { isInstalled } from "../../install/setup.ts";
import { logger, setLogLevel } from "../../log/logger.ts";
import { loadServeConfig, type ServeConfig, type ServeOverrides } from "../../config/serve-config.ts";
import { loadTlsMaterial, type TlsMaterial } from "../../pki/tls-files.ts";
import { ensureTrialCertificate } from "../../pki/trial-certificate.ts";
import { listenTls, type Listener } from "../../runtime/tls-listener.ts";
import { ensureDataDir, openStore } from "../../store/database.ts";
import { createSupervisor } from "../../supervisor/from-config.ts";
import type { Supervisor } from "../../supervisor/supervisor.ts";
import { loadTokenSecret } from "../../tokens/tokens.ts";
import { commit, version } from "../../version.ts";
import { UsageError } from "../usage-error.ts";

const log = logger("serve");

/** Runs `serve` with its flags. */
export async function runServe(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      host: { type: "string" },
      port: { type: "string" },
      cert: { type: "string" },
      key: { type: "string" },
      "key-passphrase-file": { type: "string" },
      "data-dir": { type: "string" },
      config: { type: "string" },
      "log-level": { type: "string" },
      "public-host": { type: "string" },
      dht: { type: "boolean" },
      "dht-binary": { type: "string" },
      "dht-port": { type: "string" },
      "dht-network-id": { type: "string" },
      "dht-extra-args": { type: "string" },
      turn: { type: "boolean" },
      "turn-binary": { type: "string" },
      "turn-listen-address": { type: "string" },
      "turn-port": { type: "string" },
      "turn-realm": { type: "string" },
      "turn-relay-port-min": { type: "string" },
      "turn-relay-port-max": { type: "string" },
      "turn-secret-file": { type: "string" },
      "turn-allowed-peer-ips": { type: "string" },
      "turn-extra-args": { type: "string" },
      "turn-credential-lifetime-seconds": { type: "string" },
    },
  });
  if (positionals.length > 0) throw new UsageError(`serve takes no positional argument: ${positionals[0]}`);
  const flags: ServeOverrides = {
    host: values.host,
    port: values.port,
    certFile: values.cert,
    keyFile: values.key,
    keyPassphraseFile: values["key-passphrase-file"],
    dataDir: values["data-dir"],
    logLevel: values["log-level"],
    publicHost: values["public-host"],
    dhtEnabled: values.dht,
    dhtBinary: values["dht-binary"],
    dhtPort: values["dht-port"],
    dhtNetworkId: values["dht-network-id"],
    dhtExtraArgs: values["dht-extra-args"],
    turnEnabled: values.turn,
    turnBinary: values["turn-binary"],
    turnListenAddress: values["turn-listen-address"],
    turnPort: values["turn-port"],
    turnRealm: values["turn-realm"],
    turnRelayPortMin: values["turn-relay-port-min"],
    turnRelayPortMax: values["turn-relay-port-max"],
    turnSecretFile: values["turn-secret-file"],
    turnAllowedPeerIps: values["turn-allowed-peer-ips"],
    turnExtraArgs: values["turn-extra-args"],
    turnCredentialLifetimeSeconds: values["turn-credential-lifetime-seconds"],
  };
  return serve(loadServeConfig({ flags, configFile: values.config, env }), env);
}

/** Runs the JAMS launcher form: `jams PORT CERT KEY`, listening on all addresses. */
export async function runLauncherForm(args: string[], env: Record<string, string | undefined>): Promise<number> {
  if (args.length !== 3) throw new UsageError("the launcher form is: jams PORT CERT KEY");
  const [port, certFile, keyFile] = args as [string, string, string];
  const config = loadServeConfig({ flags: { port, certFile, keyFile }, env, defaults: { host: "0.0.0.0" } });
  return serve(config, env);
}

async function serve(config: ServeConfig, env: Record<string, string | undefined>): Promise<number> {
  setLogLevel(config.logLevel);
  if (Boolean(config.certFile) !== Boolean(config.keyFile)) {
    throw new UsageError("--cert and --key go together");
  }
  log.info({ version, commit, dataDir: resolve(config.dataDir), configFile: config.configFile }, "starting");
  const store = await openStore(config.dataDir);
  const tls = await loadCredentials(config);
  // Children start in the background: a missing binary or a busy port never delays serving.
  const supervisor = createSupervisor(config, env);
  supervisor.start();
  const app = createApp({ store, tokenSecret: await loadTokenSecret(store), network: supervisor });
  const listener = await listenTls({ host: config.host, port: config.port, credentials: tls, fetch: app.fetch });
  log.info({ url: listener.url, certificate: tls.leafSubject, keyType: tls.keyDetail, notAfter: tls.leafNotAfter }, "ready");
  if (!(await isInstalled(store.db))) {
    log.warn({ url: listener.url }, "setup is not complete: run `jams setup` or use the setup API at /api/install");
  }
  return waitForStop(listener, config, supervisor, () => store.close());
}

async function loadCredentials(config: ServeConfig): Promise<TlsMaterial> {
  if (config.certFile && config.keyFile) {
    const material = await loadTlsMaterial({
      certFile: config.certFile,
      keyFile: config.keyFile,
      passphraseFile: config.keyPassphraseFile,
    });
    for (const warning of material.warnings) log.warn({ warning }, "TLS certificate warning");
    return material;
  }
  const trial = await ensureTrialCertificate(join(ensureDataDir(config.dataDir), "tls"));
  log.warn(
    { certFile: trial.certFile, sha256: trial.fingerprintSha256, created: trial.created },
    "TRIAL DEFAULT: serving a self-signed certificate for localhost; clients must trust it explicitly. Pass --cert and --key for real use",
  );
  return loadTlsMaterial({ certFile: trial.certFile, keyFile: trial.keyFile });
}

/** Serves until SIGTERM or SIGINT; SIGHUP re-reads the TLS files without dropping connections. */
function waitForStop(listener: Listener, config: ServeConfig, supervisor: Supervisor, cleanup: () => void): Promise<number> {
  return new Promise((resolveExit) => {
    const stop = async (signal: string) => {
      log.info({ signal }, "stopping");
      await Promise.all([listener.close(), supervisor.stop()]);
      cleanup();
      log.info("stopped");
      resolveExit(0);
    };
    process.once("SIGTERM", () => void stop("SIGTERM"));
    process.once("SIGINT", () => void stop("SIGINT"));
    process.on("SIGHUP", () => {
      loadCredentials(config)
        .then((tls) => {
          listener.updateCredentials(tls);
          log.info({ certificate: tls.leafSubject, notAfter: tls.leafNotAfter }, "reloaded TLS certificate");
        })
        .catch((error: Error) => log.error({ err: error.message }, "TLS reload failed; keeping the current certificate"));
    });
  });
}
