/**
 * @module A real Active Directory domain controller for tests: Samba AD, provisioned in a
 * temporary folder (about 4 s), with users added by samba-tool before it starts and a TLS
 * certificate from a private CA for IP 127.0.0.1. Samba binds the standard LDAP ports 389 and
 * 636 on loopback, so only one instance can run per machine: each test file starts and removes
 * its own, and starting fails when another process uses those ports.
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Attribute, Change, Client } from "ldapts";
import { killOnTestProcessExit, stopChildProcess } from "./dbus.ts";
import { makeDirectoryTls, waitForPort, type DirectoryTls } from "./slapd.ts";

export const adRealm = "CORP.EXAMPLE.TEST";
export const adDomain = "CORP";
export const adBase = "DC=corp,DC=example,DC=test";
export const adUsers = `CN=Users,${adBase}`;
export const adAdministrator = { username: "Administrator", password: "Admin-Pass-1234!" };

/** A user to create: sAMAccountName, password and optional profile fields. */
export interface AdUser {
  name: string;
  password: string;
  givenName?: string;
  surname?: string;
  mail?: string;
  disabled?: boolean;
  groups?: string[];
}

/** A running Samba AD DC. */
export interface SambaAd {
  tls: DirectoryTls;
  /** Stops samba, keeping the domain, so `start` can bring it back. */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops samba and removes the domain folder. */
  remove(): Promise<void>;
  /** Replaces one attribute of the user with this sAMAccountName, as the domain administrator over LDAPS. */
  replaceUserAttribute(name: string, attribute: string, value: string | Buffer): Promise<void>;
}

function portInUse(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port });
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
  });
}

function sambaTool(args: string[], config: string): void {
  const result = spawnSync("samba-tool", [...args, "-s", config], { encoding: "utf8" });
  if (result.status !== 0) throw new Error(`samba-tool ${args.slice(0, 3).join(" ")} failed (${result.status}): ${result.stderr}${result.stdout}`);
}

/** Provisions a domain, adds `users`, and starts samba; throws when it does not listen within 30 s. */
export async function startSambaAd(users: AdUser[]): Promise<SambaAd> {
  for (const port of [389, 636]) {
    if (await portInUse(port)) throw new Error(`port ${port} on 127.0.0.1 is in use; Samba AD needs it (is another DC or slapd running?)`);
  }
  const folder = mkdtempSync(join(tmpdir(), "jams-samba-"));
  const tls = makeDirectoryTls(join(folder, "tls"));
  const target = join(folder, "dc");
  const provision = spawnSync(
    "samba-tool",
    [
      "domain", "provision", `--targetdir=${target}`, `--realm=${adRealm}`, `--domain=${adDomain}`, "--server-role=dc",
      "--dns-backend=NONE", `--adminpass=${adAdministrator.password}`, "--option=interfaces=lo",
      "--option=bind interfaces only=yes", `--option=log file=${join(folder, "samba.log")}`,
    ],
    { encoding: "utf8" },
  );
  if (provision.status !== 0) throw new Error(`samba-tool domain provision failed (${provision.status}): ${provision.stderr}`);
  const config = join(target, "etc", "smb.conf");

  const groups = new Set(users.flatMap((user) => user.groups ?? []));
  for (const group of groups) sambaTool(["group", "add", group], config);
  for (const user of users) {
    const extra = [
      ...(user.givenName ? [`--given-name=${user.givenName}`] : []),
      ...(user.surname ? [`--surname=${user.surname}`] : []),
      ...(user.mail ? [`--mail-address=${user.mail}`] : []),
    ];
    sambaTool(["user", "create", user.name, user.password, ...extra], config);
    if (user.disabled) sambaTool(["user", "disable", user.name], config);
    for (const group of user.groups ?? []) sambaTool(["group", "addmembers", group, user.name], config);
  }

  let child: ChildProcess | undefined;
  let forget: (() => void) | undefined;
  let output = "";
  const start = async () => {
    output = "";
    // Only the LDAP service: the tests need nothing else, and it starts in about a second.
    child = spawn(
      "samba",
      ["-i", "-s", config, "--option=server services=ldap", `--option=tls certfile=${tls.certFile}`,
        `--option=tls keyfile=${tls.keyFile}`, `--option=tls cafile=${tls.caFile}`],
      { stdio: ["ignore", "pipe", "pipe"], detached: false },
    );
    forget = killOnTestProcessExit(child);
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    await waitForPort(636, 30_000, () => `samba output: ${output}`);
    await waitForPort(389, 30_000, () => `samba output: ${output}`);
  };
  const stop = async () => {
    if (!child) return;
    await stopChildProcess(child);
    forget?.();
    child = undefined;
    // The prefork workers close their listening sockets shortly after the master exits.
    const deadline = Date.now() + 10_000;
    while ((await portInUse(636)) || (await portInUse(389))) {
      if (Date.now() > deadline) throw new Error("samba still listens on 389 or 636 10 s after it was stopped");
      await Bun.sleep(100);
    }
  };
  await start();
  return {
    tls,
    stop,
    start,
    remove: async () => {
      await stop();
      rmSync(folder, { recursive: true, force: true });
    },
    replaceUserAttribute: async (name, attribute, value) => {
      const client = new Client({ url: "ldaps://127.0.0.1:636", timeout: 5000, tlsOptions: { ca: tls.caPem, host: "127.0.0.1" } });
      try {
        await client.bind(`${adDomain}\\${adAdministrator.username}`, adAdministrator.password);
        const found = await client.search(adUsers, { filter: `(sAMAccountName=${name})`, attributes: ["1.1"] });
        const dn = found.searchEntries[0]?.dn;
        if (!dn) throw new Error(`no user ${name} in ${adUsers}`);
        const values = typeof value === "string" ? [value] : [value];
        await client.modify(dn, new Change({ operation: "replace", modification: new Attribute({ type: attribute, values: values as string[] }) }));
      } finally {
        await client.unbind().catch(() => undefined);
      }
    },
  };
}
