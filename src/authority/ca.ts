/**
 * @module The organisation CA: generate one, or import and validate an admin's certificate and
 * key, and load it for signing.
 */
import { eq } from "drizzle-orm";
import { badRequest } from "../api/errors.ts";
import { createCaCertificate, type CaSubject, type Issuer } from "../pki/certificates.ts";
import { sameBytes } from "../pki/der.ts";
import { bytes, generateRsaKey, KeyReadError, readPrivateKeyPem, type StoredKey } from "../pki/keys.ts";
import { readPemBlocks } from "../pki/pem.ts";
import { x509 } from "../pki/x509.ts";
import type { Database, Transaction } from "../store/database.ts";
import { authority } from "../store/schema.ts";

/** A CA ready to be stored: its certificate and key. */
export interface CaMaterial {
  certificatePem: string;
  key: StoredKey;
}

/** Default validity of a generated CA: ten years. */
export const defaultCaLifetimeMs = 10 * 365 * 86_400_000;

/** Generates an RSA 4096 key and a self-signed CA certificate for it. */
export async function generateCa(subject: CaSubject, lifetimeMs = defaultCaLifetimeMs): Promise<CaMaterial> {
  const key = await generateRsaKey(4096);
  const issued = await createCaCertificate(key, subject, lifetimeMs);
  return { certificatePem: issued.pem, key };
}

/**
 * Validates an imported CA: one PEM certificate that is a CA (basicConstraints CA:TRUE, and
 * keyCertSign if keyUsage is present), currently valid, with a matching supported key.
 * Throws a 400 `invalid_ca` whose `details.field` names the input at fault.
 */
export function importCa(certificatePem: unknown, privateKeyPem: unknown, passphrase?: string): CaMaterial {
  if (typeof certificatePem !== "string" || certificatePem.trim() === "") {
    throw invalidCa("certificate", "missing: send the CA certificate as PEM");
  }
  if (typeof privateKeyPem !== "string" || privateKeyPem.trim() === "") {
    throw invalidCa("privateKey", "missing: send the CA private key as PEM");
  }
  const certificate = parseSingleCertificate(certificatePem);
  checkIsCa(certificate);
  const key = readKey(privateKeyPem, passphrase);
  if (!sameBytes(new Uint8Array(certificate.publicKey.rawData), key.spki)) {
    throw invalidCa("privateKey", "does not match the certificate's public key");
  }
  return { certificatePem: certificate.toString("pem") + "\n", key };
}

function parseSingleCertificate(pem: string): x509.X509Certificate {
  let blocks;
  try {
    blocks = readPemBlocks(pem).filter((block) => block.label === "CERTIFICATE");
  } catch (error) {
    throw invalidCa("certificate", (error as Error).message);
  }
  if (blocks.length !== 1) {
    throw invalidCa("certificate", `expected one PEM CERTIFICATE block, found ${blocks.length}`);
  }
  try {
    return new x509.X509Certificate(bytes(blocks[0]!.der));
  } catch {
    throw invalidCa("certificate", "not a valid X.509 certificate");
  }
}

function checkIsCa(certificate: x509.X509Certificate): void {
  const constraints = certificate.getExtension(x509.BasicConstraintsExtension);
  if (!constraints?.ca) {
    throw invalidCa(
      "certificate",
      "not a CA: it lacks basicConstraints CA:TRUE (a TLS server certificate cannot sign accounts)",
    );
  }
  const usage = certificate.getExtension(x509.KeyUsagesExtension);
  if (usage && !(usage.usages & x509.KeyUsageFlags.keyCertSign)) {
    throw invalidCa("certificate", "its keyUsage lacks keyCertSign, so it cannot sign certificates");
  }
  const now = Date.now();
  if (certificate.notBefore.getTime() > now || certificate.notAfter.getTime() <= now) {
    throw invalidCa("certificate", `not valid now (valid ${certificate.notBefore.toISOString()} to ${certificate.notAfter.toISOString()})`);
  }
}

function readKey(pem: string, passphrase?: string): StoredKey {
  try {
    return readPrivateKeyPem(pem, passphrase);
  } catch (error) {
    if (error instanceof KeyReadError) throw invalidCa("privateKey", error.message);
    throw error;
  }
}

function invalidCa(field: "certificate" | "privateKey", reason: string) {
  return badRequest("invalid_ca", `${field}: ${reason}`, { field, reason });
}

/** Replaces the stored CA inside a transaction. */
export async function saveCa(tx: Transaction, material: CaMaterial): Promise<void> {
  await tx.delete(authority).where(eq(authority.id, 1));
  await tx.insert(authority).values({
    id: 1,
    certificatePem: material.certificatePem,
    privateKeyDer: Buffer.from(material.key.pkcs8),
    keyAlgorithm: material.key.algorithm,
    createdAt: Date.now(),
  });
}

/** Loads the stored CA as an issuer, or undefined before setup stored one. */
export async function loadCa(db: Database | Transaction): Promise<Issuer | undefined> {
  const row = (await db.select().from(authority).where(eq(authority.id, 1)).limit(1))[0];
  if (!row) return undefined;
  const certificate = new x509.X509Certificate(row.certificatePem);
  const spki = new Uint8Array(certificate.publicKey.rawData);
  const curve = row.keyAlgorithm === "ec" ? curveOf(certificate) : undefined;
  return { certificate, key: { pkcs8: new Uint8Array(row.privateKeyDer), spki, algorithm: row.keyAlgorithm, curve } };
}

function curveOf(certificate: x509.X509Certificate): string {
  const algorithm = certificate.publicKey.algorithm as EcKeyAlgorithm;
  return algorithm.namedCurve ?? "P-256";
}
