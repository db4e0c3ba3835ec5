/**
 * Two network namespaces joined by a veth pair, for tests that need non-loopback addresses
 * without touching any other host: A has 10.79.0.1/24 and B has 10.79.0.2/24, IPv6 is off in
 * both, and nothing routes out. Needs root and `ip` (Debian package iproute2).
 *
 * IPv6 is turned off because the pjproject 2.12.1 bundled with jamid 13.7.0 blocks forever
 * reading the IPv6 address list on Linux 6.9 and later, which freezes the daemon's DHT.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";

/** A pair of namespaces; `remove()` deletes both, and with them the veth pair. */
export interface NamespacePair {
  /** Namespace names, for `ip netns exec NAME ...`. */
  readonly a: string;
  readonly b: string;
  readonly addressA: string;
  readonly addressB: string;
  /** Deletes both namespaces. Calling it again does nothing. */
  remove(): void;
}

function ip(args: string[]): void {
  const result = spawnSync("ip", args, { encoding: "utf8" });
  if (result.error) throw new Error(`ip failed to run (${result.error.message}); install the Debian package iproute2`);
  if (result.status !== 0) throw new Error(`ip ${args.join(" ")} failed (${result.status}): ${result.stderr.trim()}; this test needs root`);
}

function inNamespace(name: string, args: string[]): void {
  ip(["netns", "exec", name, ...args]);
}

/** Creates the namespaces. On any failure the ones already made are removed before the error is thrown. */
export function createNamespacePair(): NamespacePair {
  const suffix = randomBytes(3).toString("hex");
  const a = `jams-a-${suffix}`;
  const b = `jams-b-${suffix}`;
  const created: string[] = [];
  const remove = () => {
    for (const name of created.splice(0)) spawnSync("ip", ["netns", "del", name]);
  };
  try {
    for (const name of [a, b]) {
      ip(["netns", "add", name]);
      created.push(name);
      for (const key of ["all", "default", "lo"]) {
        inNamespace(name, ["sysctl", "-q", "-w", `net.ipv6.conf.${key}.disable_ipv6=1`]);
      }
      inNamespace(name, ["ip", "link", "set", "lo", "up"]);
    }
    const vethA = `va${suffix}`;
    const vethB = `vb${suffix}`;
    ip(["link", "add", vethA, "netns", a, "type", "veth", "peer", "name", vethB, "netns", b]);
    inNamespace(a, ["ip", "addr", "add", "10.79.0.1/24", "dev", vethA]);
    inNamespace(b, ["ip", "addr", "add", "10.79.0.2/24", "dev", vethB]);
    inNamespace(a, ["ip", "link", "set", vethA, "up"]);
    inNamespace(b, ["ip", "link", "set", vethB, "up"]);
  } catch (error) {
    remove();
    throw error;
  }
  return { a, b, addressA: "10.79.0.1", addressB: "10.79.0.2", remove };
}
