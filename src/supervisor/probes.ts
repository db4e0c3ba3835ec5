/**
 * @module Health probes over UDP: a STUN binding request (RFC 5389) for coturn, and an OpenDHT
 * `ping` query for dhtnode. Each resolves when the server responds, and rejects with the reason otherwise.
 */
import { randomBytes } from "node:crypto";
import { createSocket, type Socket } from "node:dgram";
import { isIPv6 } from "node:net";
import { decode, encode } from "@msgpack/msgpack";

const stunMagicCookie = 0x2112a442;
const stunBindingRequest = 0x0001;
const stunBindingSuccess = 0x0101;
const stunXorMappedAddress = 0x0020;

/** Sends one datagram and resolves with the first reply that `accept` takes. */
function exchange(host: string, port: number, request: Uint8Array, timeoutMs: number, accept: (reply: Buffer) => boolean): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const socket: Socket = createSocket(isIPv6(host) ? "udp6" : "udp4");
    const timer = setTimeout(() => finish(new Error(`no reply from ${host}:${port} within ${timeoutMs} ms`)), timeoutMs);
    const finish = (error?: Error, reply?: Buffer) => {
      clearTimeout(timer);
      socket.close();
      if (error) reject(error);
      else resolve(reply!);
    };
    socket.on("error", (error) => finish(error));
    socket.on("message", (reply) => {
      if (accept(reply)) finish(undefined, reply);
    });
    socket.send(request, port, host, (error) => {
      if (error) finish(error);
    });
  });
}

/**
 * Sends a STUN binding request and returns the XOR-MAPPED-ADDRESS of the success response as
 * `address:port` (an empty string if the server sent none).
 */
export async function probeStun(host: string, port: number, timeoutMs: number): Promise<string> {
  const transactionId = randomBytes(12);
  const request = Buffer.alloc(20);
  request.writeUInt16BE(stunBindingRequest, 0);
  request.writeUInt16BE(0, 2);
  request.writeUInt32BE(stunMagicCookie, 4);
  transactionId.copy(request, 8);
  const isOurs = (reply: Buffer) =>
    reply.length >= 20 && reply.readUInt32BE(4) === stunMagicCookie && reply.subarray(8, 20).equals(transactionId);
  const reply = await exchange(host, port, request, timeoutMs, isOurs);
  const type = reply.readUInt16BE(0);
  if (type !== stunBindingSuccess) throw new Error(`STUN server ${host}:${port} responded with message type 0x${type.toString(16)}, not a binding success`);
  return readXorMappedAddress(reply);
}

function readXorMappedAddress(message: Buffer): string {
  let offset = 20;
  const end = Math.min(message.length, 20 + message.readUInt16BE(2));
  while (offset + 4 <= end) {
    const type = message.readUInt16BE(offset);
    const length = message.readUInt16BE(offset + 2);
    const value = message.subarray(offset + 4, offset + 4 + length);
    if (type === stunXorMappedAddress && value.length >= 8 && value[1] === 0x01) {
      const port = value.readUInt16BE(2) ^ (stunMagicCookie >>> 16);
      const address = (value.readUInt32BE(4) ^ stunMagicCookie) >>> 0;
      return `${address >>> 24}.${(address >>> 16) & 255}.${(address >>> 8) & 255}.${address & 255}:${port}`;
    }
    offset += 4 + Math.ceil(length / 4) * 4;
  }
  return "";
}

/**
 * Sends an OpenDHT `ping` query, as a node joining through a bootstrap does first, and returns
 * the node id of the reply in hex. The message layout (a msgpack map with `a.id`, `q`, `t`,
 * `y`, `v` and, for a non-zero network, `n`) is OpenDHT 2.4's `NetworkEngine::sendPing`. A node
 * on another network id drops the query, so this also checks the network id.
 */
export async function probeDhtNode(host: string, port: number, networkId: number, timeoutMs: number): Promise<string> {
  const transactionId = randomBytes(4).readUInt32BE(0);
  const query: Record<string, unknown> = { a: { id: randomBytes(20) }, q: "ping", t: transactionId, y: "q", v: "RNG1" };
  if (networkId !== 0) query.n = networkId;
  const isOurs = (reply: Buffer) => {
    const message = decodeMap(reply);
    return message !== undefined && message.t === transactionId;
  };
  const reply = decodeMap(await exchange(host, port, encode(query), timeoutMs, isOurs))!;
  const body = reply.r as Record<string, unknown> | undefined;
  if (reply.y !== "r" || !(body?.id instanceof Uint8Array) || body.id.length !== 20) {
    throw new Error(`DHT node ${host}:${port} sent a reply that is not a ping response`);
  }
  return Buffer.from(body.id).toString("hex");
}

function decodeMap(datagram: Buffer): Record<string, unknown> | undefined {
  try {
    const value = decode(datagram);
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
