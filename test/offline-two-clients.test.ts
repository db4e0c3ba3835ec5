/**
 * Offline end to end: two real Jami daemons (jamid 13.7.0), each in its own network namespace
 * with IPv6 off, enroll as two users of one appliance and talk through it alone. The appliance
 * runs in namespace A on 10.79.0.1 with its supervised dhtnode and turnserver, and the daemons
 * learn the DHT bootstrap and TURN settings from the enrollment reply only. There is no other
 * network: the namespaces reach nothing but each other.
 *
 * Needs root (network namespaces) and the Debian packages jami-daemon, dbus, systemd (busctl),
 * dhtnode, coturn, iproute2 and openssl.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { makeLocalhostCertificates } from "./support/jams-serve.ts";
import { startDbusDaemon, stopChildProcess, type DbusDaemon } from "./support/dbus.ts";
import { JAMID_PATH, NameLookupState, startJamid, type Jamid } from "./support/jamid.ts";
import { createNamespacePair, type NamespacePair } from "./support/netns.ts";
import { waitUntil } from "./support/coturn.ts";

const root = join(import.meta.dirname, "..");
const main = join(root, "src/main.ts");
const serverPort = 8443;
const dhtPort = 4222;
const turnPort = 3478;

interface LogLine {
  msg: string;
  child?: string;
  [key: string]: unknown;
}

let folder: string;
let namespaces: NamespacePair | undefined;
let server: ChildProcess | undefined;
const serverLog: LogLine[] = [];
const buses: DbusDaemon[] = [];
const daemons: Jamid[] = [];

function jams(args: string[]): void {
  const result = spawnSync(process.execPath, [main, ...args], { cwd: folder, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`jams ${args.join(" ")} failed (${result.status}): ${result.stderr}`);
}

function serverLogText(): string {
  return serverLog.map((line) => JSON.stringify(line)).join("\n");
}

/** Starts `jams serve` inside namespace A and waits until it is ready and both children are healthy. */
async function startAppliance(namespace: string): Promise<void> {
  const args = ["netns", "exec", namespace, process.execPath, main, "serve", "--host", "10.79.0.1", "--port", String(serverPort),
    "--cert", "server-fullchain.pem", "--key", "server.key", "--data-dir", "data", "--public-host", "10.79.0.1",
    "--dht", "--dht-port", String(dhtPort), "--turn", "--turn-port", String(turnPort), "--turn-realm", "offline.test"];
  server = spawn("ip", args, { cwd: folder, stdio: ["ignore", "pipe", "pipe"] });
  let stderr = "";
  let pending = "";
  server.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  server.stdout!.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) if (line.startsWith("{")) serverLog.push(JSON.parse(line) as LogLine);
  });
  await waitUntil("the appliance and its dhtnode and turnserver to be ready", () => {
    if (server!.exitCode !== null) throw new Error(`jams serve exited with ${server!.exitCode}: ${stderr}\n${serverLogText()}`);
    const ready = serverLog.some((line) => line.msg === "ready");
    const healthy = ["dhtnode", "turnserver"].every((name) => serverLog.some((line) => line.child === name && line.msg === "healthy"));
    return ready && healthy ? true : undefined;
  }, 30_000);
}

/** Starts a private bus and a jamid that runs inside `namespace` and trusts the test TLS root. */
async function startDaemon(namespace: string): Promise<Jamid> {
  const bus = await startDbusDaemon();
  buses.push(bus);
  const wrapper = join(folder, `jamid-${namespace}.sh`);
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${namespace} ${JAMID_PATH} "$@"\n`);
  chmodSync(wrapper, 0o755);
  const jamid = await startJamid({ busAddress: bus.address, binary: wrapper, env: { SSL_CERT_FILE: join(folder, "root.crt") } });
  daemons.push(jamid);
  return jamid;
}

/** Account settings for enrollment. The DHT bootstrap and TURN settings come from the reply. */
function accountDetails(username: string, password: string): Record<string, string> {
  return {
    "Account.type": "RING",
    "Account.alias": username,
    "Account.managerUri": `https://10.79.0.1:${serverPort}`,
    "Account.managerUsername": username,
    "Account.archivePassword": password,
    "Account.upnpEnabled": "false",
    // Otherwise the daemon looks up public STUN hosts.
    "STUN.enable": "false",
  };
}

beforeAll(async () => {
  folder = mkdtempSync(join(tmpdir(), "jams-offline-"));
  // The appliance serves on 10.79.0.1, its address in namespace A.
  makeLocalhostCertificates(folder, ["server"], "IP:10.79.0.1");
  writeFileSync(join(folder, "admin.pw"), "admin password\n");
  writeFileSync(join(folder, "alice.pw"), "alice password\n");
  writeFileSync(join(folder, "bob.pw"), "bob password\n");
  jams(["setup", "--data-dir", "data", "--admin-user", "admin", "--admin-password-file", "admin.pw", "--ca-generate",
    "--auth", "local", "--server-domain", `https://10.79.0.1:${serverPort}`]);
  jams(["user", "add", "alice", "--password-file", "alice.pw", "--data-dir", "data"]);
  jams(["user", "add", "bob", "--password-file", "bob.pw", "--data-dir", "data"]);
  namespaces = createNamespacePair();
  await startAppliance(namespaces.a);
}, 90_000);

afterAll(async () => {
  await Promise.all(daemons.map((jamid) => jamid.stop()));
  await Promise.all(buses.map((bus) => bus.stop()));
  if (server) await stopChildProcess(server);
  namespaces?.remove();
  rmSync(folder, { recursive: true, force: true });
});

describe("two Jami clients, offline", () => {
  let alice: Jamid;
  let bob: Jamid;
  let aliceAccount: string;
  let bobAccount: string;
  let bobAddress: string;

  test("both enroll and register", async () => {
    alice = await startDaemon(namespaces!.a);
    bob = await startDaemon(namespaces!.b);
    aliceAccount = await alice.addAccount(accountDetails("alice", "alice password"));
    bobAccount = await bob.addAccount(accountDetails("bob", "bob password"));
    expect(await alice.waitForRegistrationStatus(aliceAccount, "REGISTERED", 60_000)).toBe("REGISTERED");
    expect(await bob.waitForRegistrationStatus(bobAccount, "REGISTERED", 60_000)).toBe("REGISTERED");
  }, 150_000);

  test("daemons applied the network settings", async () => {
    for (const [jamid, account] of [[alice, aliceAccount], [bob, bobAccount]] as const) {
      const details = await jamid.getAccountDetails(account);
      expect(details["Account.hostname"]).toBe(`10.79.0.1:${dhtPort}`);
      expect(details["TURN.enable"]).toBe("true");
      expect(details["TURN.server"]).toBe(`10.79.0.1:${turnPort}`);
      expect(details["TURN.realm"]).toBe("offline.test");
      expect(details["TURN.username"]).toMatch(/^\d+:[0-9a-f]{64}$/);
    }
  });

  test("alice finds bob by name", async () => {
    bobAddress = (await bob.getAccountDetails(bobAccount))["Account.username"]!.replace(/^ring:/, "");
    const found = await alice.lookupName(aliceAccount, "", "bob", 15_000);
    expect(found.state).toBe(NameLookupState.found);
    expect(found.address).toBe(bobAddress);
  });

  test("bob receives alice's message", async () => {
    const bobSignals = bob.signals.count;
    await alice.callConfigurationManager("addContact", "ss", [aliceAccount, bobAddress]);
    await alice.callConfigurationManager("sendTrustRequest", "ssay", [aliceAccount, bobAddress, []]);
    await bob.waitForSignal("conversationRequestReceived", (args) => args[0] === bobAccount, 60_000, bobSignals);
    const [requests] = await bob.callConfigurationManager("getConversationRequests", "s", [bobAccount]);
    const conversationId = (requests as Array<Record<string, string>>)[0]?.id;
    expect(conversationId).toMatch(/^[0-9a-f]{40}$/);

    const aliceSignals = alice.signals.count;
    const readySignals = bob.signals.count;
    await bob.callConfigurationManager("acceptConversationRequest", "ss", [bobAccount, conversationId!]);
    await bob.waitForSignal("conversationReady", (args) => args[0] === bobAccount && args[1] === conversationId, 60_000, readySignals);
    await alice.waitForSignal("conversationMemberEvent", (args) => args[0] === aliceAccount && args[1] === conversationId, 60_000, aliceSignals);

    const messageSignals = bob.signals.count;
    const text = "hello bob, offline";
    await alice.callConfigurationManager("sendMessage", "ssssi", [aliceAccount, conversationId!, text, "", 0]);
    const received = await bob.waitForSignal("messageReceived", (args) => {
      const message = args[2] as Record<string, string> | undefined;
      return args[0] === bobAccount && message?.body === text;
    }, 30_000, messageSignals);
    expect(received.args[1]).toBe(conversationId);
  }, 180_000);
});
