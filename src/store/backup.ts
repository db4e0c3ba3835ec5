/**
 * @module Consistent snapshots of the database (users, the CA and account keys, devices,
 * settings) taken while the server runs, optionally encrypted with a passphrase.
 *
 * A snapshot is SQLite's `VACUUM INTO` copy. Encrypted, the file is `JAMSBAK1`, a scrypt salt,
 * an AES-256-GCM nonce, then the ciphertext and its tag. Unencrypted, it is the SQLite file
 * itself, written 0600, because it contains private keys.
 */
import { createCipheriv, createDecipheriv, randomBytes, scrypt } from "node:crypto";
import { closeSync, existsSync, openSync, readFileSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Store } from "./database.ts";

const magic = Buffer.from("JAMSBAK1");
const saltLength = 16;
const nonceLength = 12;
const tagLength = 16;
const scryptCost = { N: 32768, r: 8, p: 1, maxmem: 64 * 1024 * 1024 };

/** The backup file is not what restore expects. */
export class BackupError extends Error {
  override name = "BackupError";
}

function deriveKey(passphrase: string, salt: Buffer): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(passphrase.normalize("NFC"), salt, 32, scryptCost, (error, key) => (error ? reject(error) : resolve(key)));
  });
}

/** Writes `bytes` to a new file created with mode 0600; fails if the file exists. */
export function writePrivateFile(path: string, bytes: Uint8Array): void {
  const descriptor = openSync(path, "wx", 0o600);
  try {
    writeSync(descriptor, bytes);
  } finally {
    closeSync(descriptor);
  }
}

/** Returns a consistent copy of the open database as bytes. */
export async function snapshotDatabase(store: Store): Promise<Buffer> {
  const copy = join(tmpdir(), `jams-snapshot-${randomBytes(8).toString("hex")}.db`);
  try {
    await store.client.execute(`VACUUM INTO '${copy.replace(/'/g, "''")}'`);
    return readFileSync(copy);
  } finally {
    rmSync(copy, { force: true });
  }
}

/** Encrypts a snapshot with a key derived from `passphrase`. */
export async function encryptBackup(snapshot: Buffer, passphrase: string): Promise<Buffer> {
  const salt = randomBytes(saltLength);
  const nonce = randomBytes(nonceLength);
  const cipher = createCipheriv("aes-256-gcm", await deriveKey(passphrase, salt), nonce);
  cipher.setAAD(magic);
  const body = Buffer.concat([cipher.update(snapshot), cipher.final()]);
  return Buffer.concat([magic, salt, nonce, body, cipher.getAuthTag()]);
}

/** Tells whether a backup file is encrypted. */
export function isEncryptedBackup(file: Buffer): boolean {
  return file.subarray(0, magic.length).equals(magic);
}

/** Decrypts an encrypted backup; a wrong passphrase or a damaged file is a BackupError. */
export async function decryptBackup(file: Buffer, passphrase: string): Promise<Buffer> {
  if (file.length < magic.length + saltLength + nonceLength + tagLength) throw new BackupError("the backup file is truncated");
  const salt = file.subarray(magic.length, magic.length + saltLength);
  const nonce = file.subarray(magic.length + saltLength, magic.length + saltLength + nonceLength);
  const body = file.subarray(magic.length + saltLength + nonceLength, file.length - tagLength);
  const decipher = createDecipheriv("aes-256-gcm", await deriveKey(passphrase, salt), nonce);
  decipher.setAAD(magic);
  decipher.setAuthTag(file.subarray(file.length - tagLength));
  try {
    return Buffer.concat([decipher.update(body), decipher.final()]);
  } catch {
    throw new BackupError("cannot decrypt the backup: wrong passphrase or damaged file");
  }
}

/** Tells whether `bytes` start like an SQLite database file. */
export function isSqliteFile(bytes: Buffer): boolean {
  return bytes.subarray(0, 16).toString("latin1") === "SQLite format 3\u0000";
}

/** Tells whether a data directory already contains a database. */
export function hasDatabase(dataDir: string): boolean {
  return existsSync(join(dataDir, "jams.db"));
}
