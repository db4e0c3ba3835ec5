/**
 * Proves the real-client test harness: a private D-Bus daemon, a dhtnode and the real jamid,
 * with a plain local Jami account that registers on the loopback DHT and survives a restart.
 */
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

import {
  encodeArguments,
  splitSignature,
  startDbusDaemon,
  type DbusDaemon,
} from "./support/dbus.ts";
import { startDhtNode, type DhtNode } from "./support/dhtnode.ts";
import { NameLookupState, startJamid, type Jamid } from "./support/jamid.ts";

/**
 * Returns the details of a plain local Jami account that bootstraps from `dhtAddress` and
 * contacts no host outside loopback.
 */
function localAccountDetails(
  alias: string,
  dhtAddress: string,
  nameServerUrl: string,
): Record<string, string> {
  return {
    "Account.type": "RING",
    "Account.alias": alias,
    "Account.hostname": dhtAddress,
    "Account.upnpEnabled": "false",
    "TURN.enable": "false",
    "STUN.enable": "false",
    "RingNS.uri": nameServerUrl,
  };
}

/** A made-up account id that the loopback name server registers as "alice". */
const ALICE_ADDRESS = "0123456789abcdef0123456789abcdef01234567";

/**
 * Starts a name server on loopback where only "alice" is registered. The account's
 * `RingNS.uri` points here, so jamid's lookups, including the one for its own address at
 * start, stay off the internet.
 */
function startNameServer(requests: string[]): ReturnType<typeof Bun.serve> {
  return Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(request) {
      const path = new URL(request.url).pathname;
      requests.push(path);
      if (path === "/name/alice" || path === `/addr/${ALICE_ADDRESS}`) {
        return Response.json({ name: "alice", addr: ALICE_ADDRESS });
      }
      return Response.json({ error: "not found" }, { status: 404 });
    },
  });
}

function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Ids of running processes whose environment contains `HOME=<home>`. */
function findProcessesWithHome(home: string): number[] {
  const needle = `\0HOME=${home}\0`;
  const pids: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) {
      continue;
    }
    try {
      const environ = `\0${readFileSync(join("/proc", entry, "environ"), "latin1")}`;
      if (environ.includes(needle)) {
        pids.push(Number(entry));
      }
    } catch {
      // The process exited while being read.
    }
  }
  return pids;
}

/** Per-test limit: bun test's default of 5 s is too short for starting and restarting jamid. */
const STEP_TIMEOUT_MS = 60_000;

describe("jamid test harness", () => {
  let bus: DbusDaemon | undefined;
  let dht: DhtNode | undefined;
  let nameServer: ReturnType<typeof Bun.serve> | undefined;
  let jamid: Jamid | undefined;
  let accountId = "";
  let deviceCertificate = "";
  const nameServerRequests: string[] = [];
  const startedPids: number[] = [];

  /** Stops everything that was started, in reverse order, even when a step fails. */
  async function stopAll(): Promise<void> {
    const failures: unknown[] = [];
    const steps = [
      () => jamid?.stop(),
      () => nameServer?.stop(true),
      () => dht?.stop(),
      () => bus?.stop(),
    ];
    for (const step of steps) {
      try {
        await step();
      } catch (error) {
        failures.push(error);
      }
    }
    if (failures.length > 0) {
      throw new AggregateError(failures, "Stopping the test components failed");
    }
  }

  afterAll(stopAll);

  function nameServerUrl(): string {
    if (!nameServer) {
      throw new Error("The loopback name server is not running because an earlier step failed");
    }
    return `http://127.0.0.1:${nameServer.port}`;
  }

  function requireJamid(): Jamid {
    if (!jamid) {
      throw new Error("jamid is not running because an earlier step failed");
    }
    return jamid;
  }

  test("bus, DHT node and jamid start", async () => {
    bus = await startDbusDaemon();
    startedPids.push(bus.pid);
    expect(bus.address).toStartWith("unix:path=");

    dht = await startDhtNode({ networkId: 0 });
    startedPids.push(dht.pid);
    expect(dht.port).toBeGreaterThan(0);
    expect(dht.address).toBe(`127.0.0.1:${dht.port}`);

    nameServer = startNameServer(nameServerRequests);

    jamid = await startJamid({ busAddress: bus.address });
    startedPids.push(jamid.pid!, jamid.signals.pid!);
    expect(await jamid.getAccountList()).toEqual([]);
  }, STEP_TIMEOUT_MS);

  test("local account reaches REGISTERED", async () => {
    const daemon = requireJamid();
    accountId = await daemon.addAccount(
      localAccountDetails("harness-selftest", dht!.address, nameServerUrl()),
    );
    expect(accountId).toMatch(/^[0-9a-f]{16}$/);

    const status = await daemon.waitForRegistrationStatus(accountId, "REGISTERED", 30_000);
    expect(status).toBe("REGISTERED");
    expect(await daemon.getAccountList()).toContain(accountId);

    const details = await daemon.getAccountDetails(accountId);
    expect(details["Account.alias"]).toBe("harness-selftest");
    expect(details["Account.hostname"]).toBe(dht!.address);

    const certificatePath = join(daemon.accountDir(accountId), "ring_device.crt");
    expect(existsSync(certificatePath)).toBe(true);
    deviceCertificate = readFileSync(certificatePath, "utf8");
    expect(deviceCertificate).toContain("-----BEGIN CERTIFICATE-----");
  }, STEP_TIMEOUT_MS);

  test("name lookups return registeredNameFound", async () => {
    const daemon = requireJamid();

    const byName = await daemon.lookupName("", nameServerUrl(), "alice");
    expect(byName.state).toBe(NameLookupState.found);
    expect(byName.address).toBe(ALICE_ADDRESS);

    const unknownName = await daemon.lookupName("", nameServerUrl(), "bob");
    expect(unknownName.state).toBe(NameLookupState.notFound);

    // With an account id, jamid queries the account's RingNS.uri, the same loopback server.
    const byAddress = await daemon.lookupAddress(accountId, "", ALICE_ADDRESS);
    expect(byAddress.state).toBe(NameLookupState.found);
    expect(byAddress.name).toBe("alice");

    // jamid looks up its own address when the account starts, so this request shows that the
    // RingNS.uri given to addAccount took effect.
    const ownAddress = (await daemon.getAccountDetails(accountId))["Account.username"];
    expect(ownAddress).toMatch(/^[0-9a-f]{40}$/);
    expect(nameServerRequests).toContain(`/addr/${ownAddress}`);
    expect(nameServerRequests).toContain("/name/alice");
    expect(nameServerRequests).toContain("/name/bob");
  }, STEP_TIMEOUT_MS);

  test("restart keeps the account REGISTERED", async () => {
    const daemon = requireJamid();
    const pidBefore = daemon.pid;

    await daemon.restart();
    startedPids.push(daemon.pid!);
    expect(daemon.pid).not.toBe(pidBefore);
    expect(isProcessRunning(pidBefore!)).toBe(false);

    expect(await daemon.getAccountList()).toEqual([accountId]);
    const status = await daemon.waitForRegistrationStatus(accountId, "REGISTERED", 30_000);
    expect(status).toBe("REGISTERED");

    const certificatePath = join(daemon.accountDir(accountId), "ring_device.crt");
    expect(readFileSync(certificatePath, "utf8")).toBe(deviceCertificate);
  }, STEP_TIMEOUT_MS);

  test("registration timeout names last status", async () => {
    const daemon = requireJamid();
    // Port 9 (discard) has no DHT node, so this account cannot leave TRYING.
    const unreachableId = await daemon.addAccount(
      localAccountDetails("harness-unreachable", "127.0.0.1:9", nameServerUrl()),
    );

    const wait = daemon.waitForRegistrationStatus(unreachableId, "REGISTERED", 3_000);
    await expect(wait).rejects.toThrow(/Last status: (INITIALIZING|TRYING)/);
    await expect(wait).rejects.toThrow(/--- last 40 lines of .*jamid\.log ---/);

    await daemon.removeAccount(unreachableId);
    await daemon.waitForAccountRemoved(unreachableId, 10_000);
    expect(await daemon.getAccountList()).toEqual([accountId]);
  }, STEP_TIMEOUT_MS);

  test("unknown account fails the wait", async () => {
    const daemon = requireJamid();
    const startedAt = Date.now();

    const wait = daemon.waitForRegistrationStatus("0000000000000000", "REGISTERED", 30_000);
    await expect(wait).rejects.toThrow(/Account 0000000000000000 not found/);
    expect(Date.now() - startedAt).toBeLessThan(5_000);
  }, STEP_TIMEOUT_MS);

  test("missing jamid binary fails to start", async () => {
    const start = startJamid({ busAddress: bus!.address, binary: "/nonexistent/jamid" });
    await expect(start).rejects.toThrow(/Failed to start \/nonexistent\/jamid.*jami-daemon/);
  }, STEP_TIMEOUT_MS);

  test("stop leaves no process running", async () => {
    const home = requireJamid().homeDir;
    await stopAll();

    // dbus-daemon, dhtnode, busctl monitor, and jamid before and after the restart.
    expect(startedPids.length).toBe(5);
    for (const pid of startedPids) {
      expect({ pid, running: isProcessRunning(pid) }).toEqual({ pid, running: false });
    }
    expect(findProcessesWithHome(home)).toEqual([]);
    expect(existsSync(home)).toBe(false);
  }, STEP_TIMEOUT_MS);
});

describe("busctl argument encoding", () => {
  test("signature splits into complete types", () => {
    expect(splitSignature("sa{ss}(ii)avaa{sv}")).toEqual(["s", "a{ss}", "(ii)", "av", "aa{sv}"]);
  });

  test("invalid signature is rejected", () => {
    expect(() => splitSignature("a{ss")).toThrow('Invalid D-Bus signature "a{ss" at position 4');
    expect(() => splitSignature("(s")).toThrow('Invalid D-Bus signature "(s" at position 2');
  });

  test("nested arguments encode in order", () => {
    const encoded = encodeArguments("sa{ss}ay(is)v", [
      "account",
      { "Account.alias": "two words", empty: "" },
      [],
      [1, "x"],
      { signature: "as", value: ["p", "q"] },
    ]);
    expect(encoded).toEqual([
      "account",
      "2",
      "Account.alias",
      "two words",
      "empty",
      "",
      "0",
      "1",
      "x",
      "as",
      "2",
      "p",
      "q",
    ]);
  });

  test("argument count must match signature", () => {
    expect(() => encodeArguments("ss", ["only one"])).toThrow(
      'D-Bus signature "ss" has 2 arguments but 1 were given',
    );
  });
});
