/**
 * `jams serve` as a process with the supervisor on: what devices receive at enrollment and in
 * policyData, readiness and the admin status route, and that no child outlives the appliance,
 * whether it stops on SIGTERM or is killed with SIGKILL. Also a missing binary, which must
 * neither stop the server nor block enrollment.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./support/ports.ts";
import { stopChildProcess } from "./support/dbus.ts";
import { bearerGet, deviceLogin, enroll, makeDeviceKey, makeJamiCsr, userLogin } from "./support/jami-client.ts";
import { freeUdpPort, isAlive, runUclient, waitUntil } from "./support/coturn.ts";

const root = join(import.meta.dirname, "..");
const main = join(root, "src/main.ts");

interface LogLine {
  msg: string;
  level: string;
  child?: string;
  pid?: number;
  url?: string;
  [key: string]: unknown;
}

interface Appliance {
  process: ChildProcess;
  url: string;
  log: LogLine[];
  stderr: () => string;
}

let folder: string;
const running: ChildProcess[] = [];


function jams(args: string[]): void {
  const result = spawnSync(process.execPath, [main, ...args], { cwd: folder, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`jams ${args.join(" ")} failed (${result.status}): ${result.stderr}`);
}

/** Starts `jams serve` in its own data directory (sharing the CA set up in beforeAll) and waits for "ready". */
async function startAppliance(dataDir: string, flags: string[]): Promise<Appliance> {
  const port = await freePort();
  const args = [main, "serve", "--data-dir", dataDir, "--port", String(port), "--public-host", "127.0.0.1", ...flags];
  const child = spawn(process.execPath, args, { cwd: folder, stdio: ["ignore", "pipe", "pipe"] });
  running.push(child);
  const log: LogLine[] = [];
  let stderr = "";
  let pending = "";
  child.stderr!.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout!.on("data", (chunk: Buffer) => {
    pending += chunk.toString();
    const lines = pending.split("\n");
    pending = lines.pop() ?? "";
    for (const line of lines) if (line.startsWith("{")) log.push(JSON.parse(line) as LogLine);
  });
  const ready = await waitUntil("jams serve to log ready", () => {
    if (child.exitCode !== null) throw new Error(`jams serve exited with ${child.exitCode}: ${stderr}`);
    return log.find((line) => line.msg === "ready");
  }, 20_000);
  return { process: child, url: ready.url!.replace("127.0.0.1", "localhost"), log, stderr: () => stderr };
}

function healthyPid(appliance: Appliance, child: string): Promise<number> {
  return waitUntil(`${child} to be healthy; log: ${JSON.stringify(appliance.log.filter((line) => line.child))}`, () => {
    const started = appliance.log.filter((line) => line.child === child && line.msg === "started").at(-1);
    const healthy = appliance.log.some((line) => line.child === child && line.msg === "healthy");
    return healthy && started ? started.pid : undefined;
  }, 20_000);
}

async function supervisedFlags(): Promise<string[]> {
  const relayBase = 40_000 + Math.floor(Math.random() * 9_000);
  return [
    "--dht", "--dht-port", String(await freeUdpPort()),
    "--turn", "--turn-port", String(await freeUdpPort()), "--turn-listen-address", "127.0.0.1",
    "--turn-realm", "test.example", "--turn-relay-port-min", String(relayBase), "--turn-relay-port-max", String(relayBase + 20),
    "--turn-extra-args=--allow-loopback-peers",
  ];
}

function trialCa(dataDir: string): string {
  return readFileSync(join(folder, dataDir, "tls", "trial-tls.crt"), "utf8");
}

beforeAll(() => {
  folder = mkdtempSync(join(tmpdir(), "jams-supervisor-process-"));
  writeFileSync(join(folder, "admin.pw"), "admin password\n");
  writeFileSync(join(folder, "alice.pw"), "alice password\n");
  jams(["setup", "--data-dir", "data", "--admin-user", "admin", "--admin-password-file", "admin.pw", "--ca-generate", "--auth", "local"]);
  jams(["user", "add", "alice", "--password-file", "alice.pw", "--data-dir", "data"]);
});

afterAll(async () => {
  await Promise.all(running.map((child) => stopChildProcess(child)));
  rmSync(folder, { recursive: true, force: true });
});

describe("jams serve with the supervisor", () => {
  let appliance: Appliance;
  let ca: string;
  let pids: { dht: number; turn: number };

  test("starts dhtnode and turnserver", async () => {
    appliance = await startAppliance("data", await supervisedFlags());
    ca = trialCa("data");
    pids = { dht: await healthyPid(appliance, "dhtnode"), turn: await healthyPid(appliance, "turnserver") };
    expect(isAlive(pids.dht)).toBe(true);
    expect(isAlive(pids.turn)).toBe(true);
    const ready = await fetch(`${appliance.url}/readyz`, { tls: { rejectUnauthorized: false } } as RequestInit);
    const body = (await ready.json()) as { status: string; checks: Record<string, string> };
    expect(ready.status).toBe(200);
    expect(body.checks.dhtnode).toBe("ok");
    expect(body.checks.turnserver).toBe("ok");
    expect(body.status).toBe("ok");
  });

  test("enrollment and policyData carry network settings", async () => {
    const key = makeDeviceKey(2048);
    const enrolled = await enroll(appliance.url, ca, "alice", "alice password\n".trim(), await makeJamiCsr(key), "laptop");
    expect(enrolled.status).toBe(200);
    const reply = enrolled.json as Record<string, unknown>;
    const dhtPort = appliance.log.find((line) => line.child === "dhtnode" && line.msg === "started")!.args as string[];
    expect(reply["Account.hostname"]).toBe(`127.0.0.1:${dhtPort[1]}`);
    expect(reply["TURN.enable"]).toBe("true");
    expect(reply["TURN.realm"]).toBe("test.example");
    expect(reply["TURN.username"]).toMatch(new RegExp(`^\\d+:${key.longId}$`));
    for (const [name, value] of Object.entries(reply)) expect({ name, type: typeof value }).toEqual({ name, type: "string" });

    const login = await deviceLogin(appliance.url, ca, key.privateKeyPem, reply.certificateChain as string);
    expect(login.status).toBe(200);
    const token = (login.json as { access_token: string }).access_token;
    const policy = await bearerGet(appliance.url, ca, token, "/api/auth/policyData");
    expect(policy.status).toBe(200);
    const settings = policy.json as Record<string, string>;
    expect(Object.keys(settings).sort()).toEqual(["Account.hostname", "TURN.enable", "TURN.password", "TURN.realm", "TURN.server", "TURN.username"]);
    const turnPort = Number(settings["TURN.server"]!.split(":")[1]);
    const relay = runUclient({ port: turnPort, username: settings["TURN.username"]!, password: settings["TURN.password"]!, realm: "test.example" });
    expect(relay.status).toBe(0);
  });

  test("admin route reports each child", async () => {
    // A JSON-body login gives an administrator an ADMIN token; HTTP Basic never does.
    const admin = await fetch(`${appliance.url}/api/login`, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: "admin", password: "admin password" }),
      tls: { ca },
    } as RequestInit);
    expect(admin.status).toBe(200);
    const token = ((await admin.json()) as { access_token: string; scope: string }).access_token;
    const status = await bearerGet(appliance.url, ca, token, "/api/admin/supervisor");
    expect(status.status).toBe(200);
    const children = (status.json as { children: Array<Record<string, unknown>> }).children;
    expect(children.map((child) => child.name)).toEqual(["dhtnode", "turnserver"]);
    for (const child of children) {
      expect(child.state).toBe("running");
      expect(child.restarts).toBe(0);
      expect(typeof child.pid).toBe("number");
      expect(typeof child.uptimeSeconds).toBe("number");
      expect((child.lastHealthCheck as { ok: boolean }).ok).toBe(true);
    }
  });

  test("user token cannot read admin status", async () => {
    const alice = await userLogin(appliance.url, ca, "alice", "alice password");
    const token = (alice.json as { access_token: string }).access_token;
    const status = await bearerGet(appliance.url, ca, token, "/api/admin/supervisor");
    expect(status.status).toBe(403);
    const anonymous = await fetch(`${appliance.url}/api/admin/supervisor`, { tls: { rejectUnauthorized: false } } as RequestInit);
    expect(anonymous.status).toBe(401);
  });

  test("SIGKILL of the appliance leaves no child", async () => {
    // turnserver's watchdog is the shell job that turnserver inherited when the shell exec'd it.
    const watchdogs = spawnSync("ps", ["-o", "pid=", "--ppid", String(pids.turn)], { encoding: "utf8" }).stdout.trim().split(/\s+/).filter(Boolean).map(Number);
    expect(watchdogs.length).toBe(1);
    const killed = Date.now();
    appliance.process.kill("SIGKILL");
    const everything = [pids.dht, pids.turn, ...watchdogs];
    await waitUntil("dhtnode, turnserver and the watchdog to exit after the appliance was killed", () => (everything.every((pid) => !isAlive(pid)) ? true : undefined), 8_000);
    expect(Date.now() - killed).toBeLessThan(3_000);
  });
});

describe("jams serve stopping and failing children", () => {
  test("SIGTERM stops the children first", async () => {
    const appliance = await startAppliance("data", await supervisedFlags());
    const pids = [await healthyPid(appliance, "dhtnode"), await healthyPid(appliance, "turnserver")];
    appliance.process.kill("SIGTERM");
    const code = await waitUntil("jams serve to exit", () => appliance.process.exitCode ?? undefined, 15_000);
    expect(code).toBe(0);
    for (const pid of pids) expect(isAlive(pid)).toBe(false);
    const stopped = appliance.log.filter((line) => line.msg === "stopped" && line.child);
    expect(stopped.map((line) => line.child).sort()).toEqual(["dhtnode", "turnserver"]);
  });

  test("missing binary neither stops serving nor enrollment", async () => {
    const flags = [...(await supervisedFlags()), "--dht-binary", "/nonexistent/dhtnode", "--turn-binary", "/nonexistent/turnserver"];
    const appliance = await startAppliance("data", flags);
    const ca = trialCa("data");
    await new Promise((resolve) => setTimeout(resolve, 3_500));
    const ready = await fetch(`${appliance.url}/readyz`, { tls: { rejectUnauthorized: false } } as RequestInit);
    const body = (await ready.json()) as { status: string; checks: Record<string, string> };
    expect(ready.status).toBe(200);
    expect(body.status).toBe("degraded");
    expect(body.checks.dhtnode).toBe("degraded");
    expect(body.checks.turnserver).toBe("degraded");
    const key = makeDeviceKey(2048);
    const enrolled = await enroll(appliance.url, ca, "alice", "alice password", await makeJamiCsr(key), "phone");
    expect(enrolled.status).toBe(200);
    // Several retries within 3.5 s, but one error line per child.
    const errors = appliance.log.filter((line) => line.level === "error" && line.child === "dhtnode");
    expect(errors.length).toBe(1);
    expect(String(errors[0]!.reason)).toContain("binary not found: /nonexistent/dhtnode");
    appliance.process.kill("SIGTERM");
    expect(await waitUntil("jams serve to exit", () => appliance.process.exitCode ?? undefined, 15_000)).toBe(0);
  });
});
