/**
 * @module Key generation, import and signing with WebCrypto, plus the PEM forms that admins
 * bring (PKCS#8, PKCS#1 RSA, SEC1 EC, encrypted PKCS#8) read through node:crypto.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from "node:crypto";

const subtle = globalThis.crypto.subtle;

export type KeyAlgorithm = "rsa" | "ec";

/** Bytes backed by a plain ArrayBuffer, as WebCrypto accepts them. */
export type Bytes = Uint8Array<ArrayBuffer>;

/** Copies any byte view into a plain ArrayBuffer-backed array. */
export function bytes(view: Uint8Array): Bytes {
  return new Uint8Array(view);
}

/** A private key as stored: PKCS#8 DER plus what is needed to import it for signing. */
export interface StoredKey {
  pkcs8: Bytes;
  spki: Bytes;
  algorithm: KeyAlgorithm;
  /** EC curve name (P-256, P-384) for EC keys. */
  curve?: string;
}

/** Generates an RSA key pair for an account or a CA. Jami accounts must use RSA. */
export async function generateRsaKey(bits = 4096): Promise<StoredKey> {
  const pair = await subtle.generateKey(
    {
      name: "RSASSA-PKCS1-v1_5",
      modulusLength: bits,
      publicExponent: new Uint8Array([1, 0, 1]),
      hash: "SHA-256",
    },
    true,
    ["sign", "verify"],
  );
  return {
    pkcs8: new Uint8Array(await subtle.exportKey("pkcs8", pair.privateKey)),
    spki: new Uint8Array(await subtle.exportKey("spki", pair.publicKey)),
    algorithm: "rsa",
  };
}

/** Hash used when a key signs certificates. */
export type SigningHash = "SHA-256" | "SHA-384" | "SHA-512";

/** Imports a stored key as a WebCrypto signing key with the given hash. */
export async function importSigningKey(key: StoredKey, hash: SigningHash): Promise<CryptoKey> {
  const algorithm =
    key.algorithm === "rsa"
      ? { name: "RSASSA-PKCS1-v1_5", hash }
      : { name: "ECDSA", namedCurve: key.curve ?? "P-256" };
  return subtle.importKey("pkcs8", key.pkcs8, algorithm, false, ["sign"]);
}

/** Imports an SPKI as a WebCrypto public key (for certificate generation). */
export async function importPublicKey(key: StoredKey | { spki: Bytes; algorithm: KeyAlgorithm; curve?: string }, hash: SigningHash = "SHA-256"): Promise<CryptoKey> {
  const algorithm =
    key.algorithm === "rsa"
      ? { name: "RSASSA-PKCS1-v1_5", hash }
      : { name: "ECDSA", namedCurve: key.curve ?? "P-256" };
  return subtle.importKey("spki", key.spki, algorithm, true, ["verify"]);
}

/** Signs `data` with RSA PKCS#1 v1.5 and SHA-512, the scheme Jami uses for receipts and announces. */
export async function signRsaSha512(key: StoredKey, data: Uint8Array): Promise<Uint8Array> {
  const cryptoKey = await importSigningKey(key, "SHA-512");
  return new Uint8Array(await subtle.sign("RSASSA-PKCS1-v1_5", cryptoKey, bytes(data)));
}

/** Error raised when a PEM private key cannot be read. */
export class KeyReadError extends Error {
  override name = "KeyReadError";
}

const curveNames: Record<string, string> = { prime256v1: "P-256", secp384r1: "P-384" };

/**
 * Reads a PEM private key in any of the forms openssl and certbot write, decrypting it with
 * `passphrase` when it is encrypted. Accepts RSA of at least 2048 bits and EC P-256 or P-384.
 */
export function readPrivateKeyPem(pem: string, passphrase?: string): StoredKey {
  const keyObject = parsePrivateKey(pem, passphrase);
  const type = keyObject.asymmetricKeyType;
  const details = keyObject.asymmetricKeyDetails ?? {};
  let algorithm: KeyAlgorithm;
  let curve: string | undefined;
  if (type === "rsa") {
    if ((details.modulusLength ?? 0) < 2048) {
      throw new KeyReadError(`RSA key of ${details.modulusLength} bits; at least 2048 are required`);
    }
    algorithm = "rsa";
  } else if (type === "ec" && details.namedCurve && curveNames[details.namedCurve]) {
    algorithm = "ec";
    curve = curveNames[details.namedCurve];
  } else {
    const kind = type === "ec" ? `EC curve ${details.namedCurve}` : String(type);
    throw new KeyReadError(`unsupported key type ${kind}; use RSA (2048 bits or more) or EC P-256/P-384`);
  }
  return {
    pkcs8: bytes(keyObject.export({ type: "pkcs8", format: "der" })),
    spki: bytes(createPublicKey(keyObject).export({ type: "spki", format: "der" })),
    algorithm,
    curve,
  };
}

function parsePrivateKey(pem: string, passphrase?: string): KeyObject {
  const text = pem.replace(/\r\n/g, "\n");
  const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type: 4,ENCRYPTED/.test(text);
  if (encrypted && passphrase === undefined) {
    throw new KeyReadError("the key is encrypted and no passphrase was given");
  }
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(text)) {
    throw new KeyReadError("not a PEM private key");
  }
  try {
    return createPrivateKey({ key: text, format: "pem", passphrase: encrypted ? passphrase : undefined });
  } catch (error) {
    if (encrypted) throw new KeyReadError("cannot decrypt the key: wrong passphrase or unsupported encryption");
    throw new KeyReadError(`cannot parse the key: ${(error as Error).message}`);
  }
}
