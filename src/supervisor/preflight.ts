/** @module Checks made before a child starts: the binary can be executed, and its UDP port is free. */
import { accessSync, constants, statSync } from "node:fs";
import { createSocket } from "node:dgram";
import { isIPv6 } from "node:net";
import { delimiter, join } from "node:path";

/**
 * Returns the absolute path of `binary`: itself when it contains a `/`, else the first
 * executable file of that name in `searchPath` (the PATH list). Returns undefined if none.
 */
export function findExecutable(binary: string, searchPath: string | undefined): string | undefined {
  const candidates = binary.includes("/") ? [binary] : (searchPath ?? "").split(delimiter).filter(Boolean).map((dir) => join(dir, binary));
  for (const candidate of candidates) {
    try {
      if (!statSync(candidate).isFile()) continue;
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // Not there or not executable: try the next folder.
    }
  }
  return undefined;
}

/**
 * Resolves when `port/udp` can be bound on `host` (all IPv4 addresses for `0.0.0.0`), and
 * rejects with the bind error otherwise. The test socket is closed at once, so another process
 * can still take the port before the child binds it.
 */
export function checkUdpPortFree(host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({ type: isIPv6(host) ? "udp6" : "udp4", reuseAddr: false });
    socket.once("error", (error) => {
      socket.close();
      reject(error);
    });
    socket.bind(port, host, () => socket.close(() => resolve()));
  });
}
