/**
 * @module Jami identifiers: the SHA-1 ("short id", 40 hex) and SHA-256 ("long id", 64 hex) of a
 * public key's DER SubjectPublicKeyInfo, as OpenDHT computes them through GnuTLS.
 */
import { createHash, createPublicKey, randomBytes } from "node:crypto";

/** Returns the 40-hex SHA-1 of an SPKI: a Jami account id, or a device's short id. */
export function shortId(spkiDer: Uint8Array): string {
  return createHash("sha1").update(spkiDer).digest("hex");
}

/** Returns the 64-hex SHA-256 of an SPKI: the device id current Jami clients use. */
export function longId(spkiDer: Uint8Array): string {
  return createHash("sha256").update(spkiDer).digest("hex");
}

/**
 * Re-encodes an SPKI the way GnuTLS does before hashing it (for RSA: rsaEncryption with NULL
 * parameters), so ids match the client's even when the input encoding was unusual.
 */
export function canonicalSpki(spkiDer: Uint8Array): Buffer {
  const key = createPublicKey({ key: Buffer.from(spkiDer), format: "der", type: "spki" });
  return key.export({ type: "spki", format: "der" });
}

/** Returns a random positive 128-bit certificate serial number as lowercase hex. */
export function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x10;
  return bytes.toString("hex");
}
