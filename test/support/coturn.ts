/**
 * Helpers for tests of the supervised DHT node and TURN server: free UDP ports, process
 * liveness, `turnutils_uclient` (Debian package `coturn`) and a python3-opendht probe node.
 *
 * @module
 */
import { spawnSync } from "node:child_process";
import { createSocket } from "node:dgram";

/** Returns a UDP port that was free on 127.0.0.1 and 0.0.0.0 a moment ago. */
export async function freeUdpPort(): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const socket = createSocket("udp4");
      socket.once("error", reject);
      socket.bind(0, "0.0.0.0", () => {
        const { port } = socket.address();
        socket.close(() => resolve(port));
      });
    });
    // Keep clear of the relay ranges tests give coturn.
    if (port < 40_000 || port > 50_000) return port;
  }
}

/** Reports whether a process with this pid exists (a zombie counts as gone). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  const stat = spawnSync("ps", ["-o", "stat=", "-p", String(pid)], { encoding: "utf8" }).stdout.trim();
  return stat !== "" && !stat.startsWith("Z");
}

/** Polls `condition` every 100 ms until it returns a value other than undefined, or throws after `timeoutMs`. */
export async function waitUntil<T>(what: string, condition: () => T | undefined | Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** Result of one `turnutils_uclient` run. */
export interface UclientResult {
  status: number | null;
  output: string;
}

/**
 * Runs `turnutils_uclient` against a TURN server on 127.0.0.1: one client-to-client session
 * (`-y`) that allocates relays and sends one message through them. Exit status 0 means the
 * allocation and the relay worked.
 */
export function runUclient(input: { port: number; username: string; password: string; realm: string }): UclientResult {
  const result = spawnSync(
    "turnutils_uclient",
    ["-p", String(input.port), "-u", input.username, "-w", input.password, "-r", input.realm, "-n", "1", "-m", "1", "-y", "127.0.0.1"],
    { encoding: "utf8", timeout: 15_000 },
  );
  if (result.error) throw new Error(`turnutils_uclient failed to run (${result.error.message}); install the Debian package coturn`);
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

/**
 * A python3-opendht script: node A bootstraps from argv[1]:argv[2] and puts a value under a
 * key, then a separate node B bootstraps from the same address and gets it. Prints the value.
 */
export const dhtPutGetScript = `
import sys, time, opendht as dht
host, port, net = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def runner():
    config = dht.DhtConfig()
    config.setNetwork(net)
    node = dht.DhtRunner()
    node.run(port=0, config=config)
    node.bootstrap(host, str(port))
    return node
a = runner()
b = runner()
key = dht.InfoHash.get("jams-supervisor-test")
deadline = time.time() + 20
while time.time() < deadline:
    if a.put(key, dht.Value(b"hello through the supervised node")):
        break
    time.sleep(0.5)
else:
    sys.exit("put failed")
while time.time() < deadline:
    values = b.get(key)
    if values:
        print(values[0].data.decode())
        break
    time.sleep(0.5)
else:
    sys.exit("get found nothing")
a.join()
b.join()
`;
