/**
 * The supervisor against the real binaries (Debian packages dhtnode, coturn, python3-opendht):
 * start, health, restart after a kill, backoff and crash loop, missing binary, busy port,
 * stop, and the account settings devices receive.
 */
import { afterAll, afterEach, describe, expect, test } from "bun:test";
import { spawnSync } from "node:child_process";
import { createHmac } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ConfigError, loadServeConfig } from "../src/config/serve-config.ts";
import { setLogLevel } from "../src/log/logger.ts";
import type { RestartPolicy } from "../src/supervisor/backoff.ts";
import type { ChildStatus } from "../src/supervisor/child.ts";
import { buildTurnConfig, issueTurnCredentials, TurnConfigError, type TurnSettings } from "../src/supervisor/coturn.ts";
import { probeDhtNode, probeStun } from "../src/supervisor/probes.ts";
import { createSupervisor, supervisorSettings } from "../src/supervisor/from-config.ts";
import { Supervisor, type SupervisorSettings } from "../src/supervisor/supervisor.ts";
import { dhtPutGetScript, freeUdpPort, isAlive, runUclient, waitUntil } from "./support/coturn.ts";

setLogLevel(process.env.JAMS_TEST_LOG_LEVEL === "debug" ? "debug" : "error");

const fastPolicy: Partial<RestartPolicy> = {
  initialBackoffMs: 200,
  maxBackoffMs: 1_600,
  stableAfterMs: 30_000,
  crashLoopFailures: 4,
  crashLoopWindowMs: 30_000,
  healthIntervalMs: 500,
  healthTimeoutMs: 500,
  healthFailuresBeforeRestart: 2,
  startTimeoutMs: 8_000,
  stopGraceMs: 2_000,
};

const folders: string[] = [];
const supervisors: Supervisor[] = [];

afterEach(async () => {
  await Promise.all(supervisors.splice(0).map((supervisor) => supervisor.stop()));
});

afterAll(() => {
  for (const folder of folders) rmSync(folder, { recursive: true, force: true });
});

async function settingsFor(overrides: { dht?: Partial<SupervisorSettings["dht"]>; turn?: Partial<TurnSettings> } = {}): Promise<SupervisorSettings> {
  const folder = mkdtempSync(join(tmpdir(), "jams-supervisor-"));
  folders.push(folder);
  const relayBase = 40_000 + Math.floor(Math.random() * 9_000);
  return {
    publicHost: "10.79.0.1",
    dht: { enabled: false, binary: "dhtnode", port: await freeUdpPort(), networkId: 0, extraArgs: [], stateDir: join(folder, "dht"), ...overrides.dht },
    turn: {
      enabled: false,
      binary: "turnserver",
      listenAddress: "127.0.0.1",
      port: await freeUdpPort(),
      realm: "test.example",
      relayPortMin: relayBase,
      relayPortMax: relayBase + 20,
      allowedPeerIps: [],
      // uclient's two sessions relay to each other on loopback, which coturn refuses by default.
      extraArgs: ["--allow-loopback-peers"],
      stateDir: join(folder, "turn"),
      credentialLifetimeSeconds: 3600,
      ...overrides.turn,
    },
  };
}

function startSupervisor(settings: SupervisorSettings, policy: Partial<RestartPolicy> = fastPolicy): Supervisor {
  const supervisor = new Supervisor(settings, { policy, searchPath: process.env.PATH });
  supervisors.push(supervisor);
  supervisor.start();
  return supervisor;
}

function child(supervisor: Supervisor, name: string): ChildStatus {
  const status = supervisor.status().find((entry) => entry.name === name);
  if (!status) throw new Error(`no child ${name} in ${JSON.stringify(supervisor.status())}`);
  return status;
}

function waitForState(supervisor: Supervisor, name: string, test: (status: ChildStatus) => boolean, timeoutMs = 15_000): Promise<ChildStatus> {
  return waitUntil(`${name} to reach the expected state (now ${JSON.stringify(child(supervisor, name))})`, () => {
    const status = child(supervisor, name);
    return test(status) ? status : undefined;
  }, timeoutMs);
}

const running = (status: ChildStatus) => status.state === "running" && status.pid !== null;

describe("supervisor with real dhtnode and turnserver", () => {
  test("starts both children and reports them healthy", async () => {
    const settings = await settingsFor({ dht: { enabled: true }, turn: { enabled: true } });
    const supervisor = startSupervisor(settings);
    const dht = await waitForState(supervisor, "dhtnode", running);
    const turn = await waitForState(supervisor, "turnserver", running);
    expect(isAlive(dht.pid!)).toBe(true);
    expect(isAlive(turn.pid!)).toBe(true);
    expect(dht.restarts).toBe(0);
    expect(turn.restarts).toBe(0);
    expect(dht.lastHealthCheck?.ok).toBe(true);
    expect(turn.lastHealthCheck?.detail).toContain("STUN binding responded");
    expect(await probeDhtNode("127.0.0.1", settings.dht.port, 0, 2_000)).toMatch(/^[0-9a-f]{40}$/);
    expect(await probeStun("127.0.0.1", settings.turn.port, 2_000)).toMatch(/^127\.0\.0\.1:\d+$/);
    const config = statSync(join(settings.turn.stateDir, "turnserver.conf"));
    expect(config.mode & 0o777).toBe(0o600);
    const secret = statSync(join(settings.turn.stateDir, "secret"));
    expect(secret.mode & 0o777).toBe(0o600);
  });

  test("restarts a killed child and counts it", async () => {
    const supervisor = startSupervisor(await settingsFor({ dht: { enabled: true }, turn: { enabled: true } }));
    for (const name of ["dhtnode", "turnserver"]) {
      const first = await waitForState(supervisor, name, running);
      process.kill(first.pid!, "SIGKILL");
      const second = await waitForState(supervisor, name, (status) => running(status) && status.pid !== first.pid);
      expect(second.restarts).toBe(1);
      expect(second.lastExit?.signal).toBe("SIGKILL");
      expect(second.lastExit?.reason).toContain("SIGKILL");
      expect(isAlive(first.pid!)).toBe(false);
    }
  });

  test("stop leaves no child running", async () => {
    const supervisor = startSupervisor(await settingsFor({ dht: { enabled: true }, turn: { enabled: true } }));
    const pids = [
      (await waitForState(supervisor, "dhtnode", running)).pid!,
      (await waitForState(supervisor, "turnserver", running)).pid!,
    ];
    const started = Date.now();
    await supervisor.stop();
    expect(Date.now() - started).toBeLessThan(fastPolicy.stopGraceMs! + 1_000);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    for (const status of supervisor.status()) {
      expect(status.state).toBe("stopped");
      expect(status.pid).toBeNull();
    }
  });

  test("probe node exchanges a value through the node", async () => {
    const settings = await settingsFor({ dht: { enabled: true } });
    const supervisor = startSupervisor(settings);
    await waitForState(supervisor, "dhtnode", running);
    const result = spawnSync("/usr/bin/python3", ["-c", dhtPutGetScript, "127.0.0.1", String(settings.dht.port), "0"], { encoding: "utf8", timeout: 40_000 });
    expect(result.stderr).not.toContain("ModuleNotFoundError");
    expect(result.status).toBe(0);
    expect(result.stdout.trim()).toBe("hello through the supervised node");
  });

  test("non-zero network id ignores network 0", async () => {
    const settings = await settingsFor({ dht: { enabled: true, networkId: 4242 } });
    const supervisor = startSupervisor(settings);
    await waitForState(supervisor, "dhtnode", running);
    expect(await probeDhtNode("127.0.0.1", settings.dht.port, 4242, 2_000)).toMatch(/^[0-9a-f]{40}$/);
    await expect(probeDhtNode("127.0.0.1", settings.dht.port, 0, 1_000)).rejects.toThrow("no reply");
  });
});

describe("supervisor failures", () => {
  test("crashing child is backed off into a crash loop", async () => {
    const folder = mkdtempSync(join(tmpdir(), "jams-crash-"));
    folders.push(folder);
    const crasher = join(folder, "dhtnode-crash");
    writeFileSync(crasher, "#!/bin/sh\necho 'about to crash' >&2\nexit 3\n", { mode: 0o755 });
    const supervisor = startSupervisor(await settingsFor({ dht: { enabled: true, binary: crasher } }));
    const delays: number[] = [];
    let previous = -1;
    const status = await waitUntil("a crash loop", () => {
      const current = child(supervisor, "dhtnode");
      if (current.nextStartAt && current.restarts !== previous && current.lastExit) {
        previous = current.restarts;
        delays.push(Date.parse(current.nextStartAt) - Date.parse(current.lastExit.at));
      }
      return current.state === "crash-loop" ? current : undefined;
    }, 20_000);
    expect(status.lastExit?.code).toBe(3);
    expect(status.problem).toContain("exited with code 3");
    expect(status.restarts).toBeGreaterThanOrEqual(3);
    // Each delay at least doubles the one before, up to the cap.
    expect(delays.length).toBeGreaterThanOrEqual(3);
    for (let i = 1; i < delays.length; i++) expect(delays[i]!).toBeGreaterThanOrEqual(Math.min(delays[i - 1]! * 2 - 50, fastPolicy.maxBackoffMs! - 50));
    // Backed off, not spinning: far fewer starts than a tight loop would make in this time.
    const restartsBefore = status.restarts;
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    expect(child(supervisor, "dhtnode").restarts - restartsBefore).toBeLessThanOrEqual(1);
  });

  test("missing binary is reported and retried", async () => {
    const supervisor = startSupervisor(await settingsFor({ dht: { enabled: true, binary: "/nonexistent/dhtnode" }, turn: { enabled: true, binary: "no-such-turnserver" } }));
    const dht = await waitForState(supervisor, "dhtnode", (status) => status.restarts >= 2);
    const turn = await waitForState(supervisor, "turnserver", (status) => status.problem !== null);
    expect(dht.problem).toContain("binary not found: /nonexistent/dhtnode");
    expect(dht.problem).toContain("Debian package dhtnode");
    expect(dht.pid).toBeNull();
    expect(["backoff", "crash-loop"]).toContain(dht.state);
    expect(turn.problem).toContain("Debian package coturn");
  });

  test("busy port is reported, then taken once free", async () => {
    const settings = await settingsFor({ dht: { enabled: true } });
    const blocker: Socket = createSocket("udp4");
    await new Promise<void>((resolve) => blocker.bind(settings.dht.port, "0.0.0.0", resolve));
    const supervisor = startSupervisor(settings);
    try {
      const blocked = await waitForState(supervisor, "dhtnode", (status) => status.problem !== null);
      expect(blocked.problem).toContain(`port ${settings.dht.port}/udp`);
      expect(blocked.problem).toContain("already in use");
      expect(blocked.pid).toBeNull();
    } finally {
      blocker.close();
    }
    const recovered = await waitForState(supervisor, "dhtnode", running);
    expect(recovered.problem).toBeNull();
    expect(recovered.restarts).toBeGreaterThanOrEqual(1);
  });

  test("unhealthy child is restarted", async () => {
    // The health probe uses another network id than the node, so every check fails.
    const settings = await settingsFor({ dht: { enabled: true, extraArgs: ["-n", "7"] } });
    const supervisor = startSupervisor(settings, { ...fastPolicy, startTimeoutMs: 1_500 });
    const status = await waitForState(supervisor, "dhtnode", (current) => current.restarts >= 1 && current.lastExit !== null);
    expect(status.lastExit?.reason).toContain("not healthy");
    expect(status.lastHealthCheck?.ok).toBe(false);
    expect(status.lastHealthCheck?.detail).toContain("no reply");
  });
});

describe("TURN credentials and configuration", () => {
  test("issued credentials allocate a relay", async () => {
    const settings = await settingsFor({ turn: { enabled: true } });
    const supervisor = startSupervisor(settings);
    await waitForState(supervisor, "turnserver", running);
    const network = supervisor.accountSettings("a".repeat(40));
    expect(network["TURN.enable"]).toBe("true");
    expect(network["TURN.server"]).toBe(`10.79.0.1:${settings.turn.port}`);
    expect(network["TURN.realm"]).toBe("test.example");
    expect(network["TURN.username"]).toMatch(new RegExp(`^\\d+:${"a".repeat(40)}$`));
    const result = runUclient({ port: settings.turn.port, username: network["TURN.username"]!, password: network["TURN.password"]!, realm: "test.example" });
    expect(result.output).not.toContain("Cannot complete Allocation");
    expect(result.status).toBe(0);
  });

  test("made-up, expired or foreign credentials fail", async () => {
    const settings = await settingsFor({ turn: { enabled: true } });
    const supervisor = startSupervisor(settings);
    await waitForState(supervisor, "turnserver", running);
    const issued = supervisor.accountSettings("b".repeat(40));
    const expired = issueTurnCredentials(readSecret(settings), "b".repeat(40), 60, Date.now() - 3_600_000);
    const foreign = issueTurnCredentials("another-secret-of-enough-length", "b".repeat(40), 3600);
    const cases = [
      { name: "made-up password", username: issued["TURN.username"]!, password: "bm90IHRoZSBwYXNzd29yZA==" },
      { name: "made-up username", username: "user", password: issued["TURN.password"]! },
      { name: "expired", username: expired.username, password: expired.password },
      { name: "other secret", username: foreign.username, password: foreign.password },
    ];
    for (const credentials of cases) {
      const result = runUclient({ port: settings.turn.port, username: credentials.username, password: credentials.password, realm: "test.example" });
      expect({ case: credentials.name, status: result.status }).not.toEqual({ case: credentials.name, status: 0 });
    }
  });

  test("credentials are fresh and device-bound", () => {
    const first = issueTurnCredentials("secret-of-sixteen-chars", "c".repeat(40), 86_400, 1_700_000_000_000);
    expect(first.username).toBe(`${1_700_000_000 + 86_400}:${"c".repeat(40)}`);
    expect(first.password).toBe(Buffer.from(new Bun.CryptoHasher("sha1", "secret-of-sixteen-chars").update(first.username).digest()).toString("base64"));
    const later = issueTurnCredentials("secret-of-sixteen-chars", "c".repeat(40), 86_400, 1_700_000_010_000);
    expect(later.username).not.toBe(first.username);
    const other = issueTurnCredentials("secret-of-sixteen-chars", "d".repeat(40), 86_400, 1_700_000_000_000);
    expect(other.password).not.toBe(first.password);
  });

  test("config rejects both relays disabled", async () => {
    const settings = await settingsFor({ turn: { extraArgs: ["--no-udp-relay", "--no-tcp-relay"] } });
    expect(() => buildTurnConfig(settings.turn, "x".repeat(32))).toThrow(TurnConfigError);
    expect(() => buildTurnConfig(settings.turn, "x".repeat(32))).toThrow("both UDP and TCP relaying");
    const udpOnly = await settingsFor({ turn: { extraArgs: ["--no-tcp-relay"] } });
    expect(buildTurnConfig(udpOnly.turn, "x".repeat(32))).toContain("use-auth-secret");
  });

  test("config rejects bad values", async () => {
    const settings = await settingsFor();
    const bad: [Partial<TurnSettings>, string][] = [
      [{ relayPortMin: 50_000, relayPortMax: 49_000 }, "relay port range"],
      [{ realm: "two words" }, "invalid TURN realm"],
      [{ realm: "a#b" }, "invalid TURN realm"],
      [{ allowedPeerIps: ["10.0.0.0/8\nno-auth"] }, "allowed peer"],
    ];
    for (const [change, message] of bad) {
      expect(() => buildTurnConfig({ ...settings.turn, ...change }, "x".repeat(32))).toThrow(message);
    }
  });

  test("short secret file is rejected", async () => {
    const settings = await settingsFor({ turn: { enabled: true } });
    const secretFile = join(settings.turn.stateDir + "-secret");
    writeFileSync(secretFile, "short\n");
    expect(() => new Supervisor({ ...settings, turn: { ...settings.turn, secretFile } })).toThrow("at least 16 characters");
    expect(() => new Supervisor({ ...settings, turn: { ...settings.turn, secretFile: secretFile + "-missing" } })).toThrow("cannot read the TURN secret file");
  });

  test("no public host sends no settings", async () => {
    const settings = await settingsFor({ dht: { enabled: true }, turn: { enabled: true } });
    const supervisor = new Supervisor({ ...settings, publicHost: undefined });
    expect(supervisor.accountSettings("e".repeat(40))).toEqual({});
    const withHost = new Supervisor({ ...settings, publicHost: "fd00::10" });
    const values = withHost.accountSettings("e".repeat(40));
    expect(values["Account.hostname"]).toBe(`[fd00::10]:${settings.dht.port}`);
    for (const value of Object.values(values)) expect(typeof value).toBe("string");
    expect(Object.keys(values).sort()).toEqual(["Account.hostname", "TURN.enable", "TURN.password", "TURN.realm", "TURN.server", "TURN.username"]);
  });
});

function readSecret(settings: SupervisorSettings): string {
  return readFileSync(join(settings.turn.stateDir, "secret"), "utf8").trim();
}

describe("supervisor settings", () => {
  test("both children are off by default", () => {
    const config = loadServeConfig({ flags: {}, env: {} });
    expect(config.dhtEnabled).toBe(false);
    expect(config.turnEnabled).toBe(false);
    expect(config.dhtPort).toBe(4222);
    expect(config.dhtNetworkId).toBe(0);
    expect(config.turnPort).toBe(3478);
    expect(new Supervisor(supervisorSettings(config)).status()).toEqual([]);
  });

  test("file < environment < flags", () => {
    const folder = mkdtempSync(join(tmpdir(), "jams-supervisor-config-"));
    folders.push(folder);
    const file = join(folder, "config.json");
    writeFileSync(file, JSON.stringify({ dhtEnabled: true, dhtPort: 5000, turnExtraArgs: ["--no-tcp-relay", "--verbose"], turnAllowedPeerIps: ["10.0.0.0-10.255.255.255"] }));
    const config = loadServeConfig({
      configFile: file,
      env: { JAMS_DHT_PORT: "5001", JAMS_TURN_ENABLED: "yes", JAMS_TURN_ALLOWED_PEER_IPS: "10.1.0.1, 10.2.0.0-10.2.255.255" },
      flags: { dhtPort: "5002", dhtEnabled: false },
    });
    expect(config.dhtEnabled).toBe(false);
    expect(config.dhtPort).toBe(5002);
    expect(config.turnEnabled).toBe(true);
    expect(config.turnExtraArgs).toEqual(["--no-tcp-relay", "--verbose"]);
    expect(config.turnAllowedPeerIps).toEqual(["10.1.0.1", "10.2.0.0-10.2.255.255"]);
    const settings = supervisorSettings({ ...config, dataDir: "relative/data" });
    expect(settings.dht.stateDir.startsWith("/")).toBe(true);
    expect(settings.turn.stateDir.endsWith("relative/data/turn")).toBe(true);
  });

  test("invalid values are rejected", () => {
    const bad: [Record<string, string>, string][] = [
      [{ JAMS_DHT_ENABLED: "maybe" }, "dhtEnabled"],
      [{ JAMS_DHT_NETWORK_ID: "4294967296" }, "dhtNetworkId"],
      [{ JAMS_DHT_NETWORK_ID: "-1" }, "dhtNetworkId"],
      [{ JAMS_TURN_PORT: "70000" }, "turnPort"],
      [{ JAMS_PUBLIC_HOST: "jams.example.org:4222" }, "publicHost"],
      [{ JAMS_PUBLIC_HOST: "https://jams.example.org" }, "publicHost"],
      [{ JAMS_TURN_CREDENTIAL_LIFETIME_SECONDS: "10" }, "turnCredentialLifetimeSeconds"],
    ];
    for (const [env, key] of bad) {
      expect(() => loadServeConfig({ flags: {}, env })).toThrow(`setting ${key}`);
    }
  });

  test("bad TURN settings are a config error", () => {
    const folder = mkdtempSync(join(tmpdir(), "jams-supervisor-config-"));
    folders.push(folder);
    const config = loadServeConfig({ flags: { dataDir: folder, turnEnabled: "true", turnExtraArgs: "--no-udp-relay --no-tcp-relay" }, env: {} });
    expect(() => createSupervisor(config, {})).toThrow(ConfigError);
    const secretFile = join(folder, "secret");
    writeFileSync(secretFile, "tiny");
    const short = loadServeConfig({ flags: { dataDir: folder, turnEnabled: "true", turnSecretFile: secretFile }, env: {} });
    expect(() => createSupervisor(short, {})).toThrow("at least 16 characters");
  });

  test("systemd credential is used as the secret", () => {
    const folder = mkdtempSync(join(tmpdir(), "jams-supervisor-config-"));
    folders.push(folder);
    writeFileSync(join(folder, "turn-secret"), "credential-from-systemd-0123456789\n");
    const config = loadServeConfig({ flags: { dataDir: join(folder, "data"), turnEnabled: "true", publicHost: "10.0.0.5" }, env: {} });
    const supervisor = createSupervisor(config, { CREDENTIALS_DIRECTORY: folder });
    const values = supervisor.accountSettings("f".repeat(40));
    expect(values["TURN.username"]).toMatch(new RegExp(`^\\d+:${"f".repeat(40)}$`));
    const expected = createHmac("sha1", "credential-from-systemd-0123456789").update(values["TURN.username"]!).digest("base64");
    expect(values["TURN.password"]).toBe(expected);
    expect(readFileSync(join(folder, "data", "turn", "turnserver.conf"), "utf8")).toContain("static-auth-secret=credential-from-systemd-0123456789");
  });
});
