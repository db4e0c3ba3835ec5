/**
 * @module Parsing and checking the PKCS#10 requests that Jami devices send at enrollment.
 *
 * The Jami daemon writes its CSR with the GnuTLS label `NEW CERTIFICATE REQUEST`; both labels,
 * CRLF line endings and bare base64 DER are accepted. The self-signature is always verified.
 */
import { createPublicKey } from "node:crypto";
import { badRequest } from "../api/errors.ts";
import { canonicalSpki } from "./ids.ts";
import { bytes, type Bytes } from "./keys.ts";
import { readPemBlocks } from "./pem.ts";
import { x509 } from "./x509.ts";

/** The longest CSR text accepted; an RSA 16384 request is under 6 KiB. */
export const maxCsrLength = 16 * 1024;

const minRsaBits = 2048;
const maxRsaBits = 16384;
const acceptedHashes = new Set(["SHA-256", "SHA-384", "SHA-512"]);

/** The parts of a verified device CSR the server uses. */
export interface DeviceRequest {
  /** The device public key as canonical DER SPKI. */
  spki: Bytes;
  rsaBits: number;
}

/** Parses `text`, verifies its self-signature and key, and returns the device key. Throws 400s. */
export async function readDeviceCsr(text: unknown): Promise<DeviceRequest> {
  if (typeof text !== "string" || text.trim() === "") {
    throw badRequest("invalid_csr", "csr must be a non-empty string holding a PEM CSR");
  }
  if (text.length > maxCsrLength) {
    throw badRequest("invalid_csr", `csr is longer than ${maxCsrLength} characters`);
  }
  const request = parseRequest(decodeCsr(text));
  checkSignatureAlgorithm(request);
  const spki = Buffer.from(request.publicKey.rawData);
  const rsaBits = checkRsaKey(spki);
  if (!(await verifySignature(request))) {
    throw badRequest("invalid_csr", "the CSR signature does not verify with its public key");
  }
  return { spki: bytes(canonicalSpki(spki)), rsaBits };
}

function decodeCsr(text: string): Buffer {
  if (text.includes("-----BEGIN")) {
    let blocks;
    try {
      blocks = readPemBlocks(text);
    } catch (error) {
      throw badRequest("invalid_csr", `csr PEM is malformed: ${(error as Error).message}`);
    }
    const csr = blocks.filter((b) => /^(NEW )?CERTIFICATE REQUEST$/.test(b.label));
    if (csr.length !== 1 || blocks.length !== 1) {
      throw badRequest("invalid_csr", "csr must hold exactly one CERTIFICATE REQUEST PEM block");
    }
    return csr[0]!.der;
  }
  const body = text.replace(/\s+/g, "");
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) {
    throw badRequest("invalid_csr", "csr is neither PEM nor base64 DER");
  }
  return Buffer.from(body, "base64");
}

function parseRequest(der: Buffer): x509.Pkcs10CertificateRequest {
  try {
    return new x509.Pkcs10CertificateRequest(bytes(der));
  } catch {
    throw badRequest("invalid_csr", "csr is not a DER PKCS#10 certificate request");
  }
}

function checkSignatureAlgorithm(request: x509.Pkcs10CertificateRequest): void {
  const algorithm = request.signatureAlgorithm as { name?: string; hash?: { name?: string } };
  if (algorithm.name !== "RSASSA-PKCS1-v1_5") {
    const name = algorithm.name ?? "unknown";
    throw badRequest("unsupported_key_type", `CSR signature algorithm ${name} is not supported; use RSA PKCS#1 v1.5`);
  }
  if (!acceptedHashes.has(algorithm.hash?.name ?? "")) {
    throw badRequest("invalid_csr", `CSR signature hash ${algorithm.hash?.name ?? "unknown"} is too weak; use SHA-256 or better`);
  }
}

function checkRsaKey(spki: Buffer): number {
  let key;
  try {
    key = createPublicKey({ key: spki, format: "der", type: "spki" });
  } catch {
    throw badRequest("invalid_csr", "the CSR public key cannot be parsed");
  }
  const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
  if (key.asymmetricKeyType !== "rsa") {
    throw badRequest("unsupported_key_type", `device key type ${key.asymmetricKeyType} is not supported; Jami devices use RSA`);
  }
  if (bits < minRsaBits || bits > maxRsaBits) {
    throw badRequest("unsupported_key_type", `RSA key of ${bits} bits; ${minRsaBits} to ${maxRsaBits} are accepted`);
  }
  return bits;
}

async function verifySignature(request: x509.Pkcs10CertificateRequest): Promise<boolean> {
  try {
    return await request.verify();
  } catch {
    return false;
  }
}
