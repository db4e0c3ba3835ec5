/**
 * @module Certificate revocation lists: one signed by the organisation CA for account
 * certificates, and one per account, signed by the account key, for its device certificates.
 *
 * Verifiers such as `openssl verify -crl_check` look for a CRL issued by each certificate's own
 * issuer, and device certificates are issued by account keys, so a CA-signed CRL could not
 * cover them. Each CRL is rebuilt at every revocation, and when half its lifetime has passed,
 * with a CRL number that only grows.
 */
import { and, eq, isNotNull } from "drizzle-orm";
import { type InstallSettings } from "../config/install-settings.ts";
import { logger } from "../log/logger.ts";
import { authorityKeyIdentifier, signingHash, type Issuer } from "../pki/certificates.ts";
import { certificateNames } from "../pki/der.ts";
import { bytes, importSigningKey } from "../pki/keys.ts";
import { x509 } from "../pki/x509.ts";
import type { Database, Store, Transaction } from "../store/database.ts";
import { readSetting, writeSetting } from "../store/settings-repo.ts";
import { certificates } from "../store/schema.ts";
import { caIssuerId } from "./revocation-urls.ts";
import type { RevocationReason } from "./revocation.ts";

const log = logger("crl");

/** A CRL as stored and served. */
export interface StoredCrl {
  number: number;
  der: string;
  thisUpdate: number;
  nextUpdate: number;
}

const reasonCodes: Record<RevocationReason, x509.X509CrlReason> = {
  unspecified: x509.X509CrlReason.unspecified,
  keyCompromise: x509.X509CrlReason.keyCompromise,
  cessationOfOperation: x509.X509CrlReason.cessationOfOperation,
  superseded: x509.X509CrlReason.superseded,
  privilegeWithdrawn: x509.X509CrlReason.privilegeWithdrawn,
};

function cacheKey(issuerId: string): string {
  return `crl.${issuerId}`;
}

/** Lists the revoked serials of certificates signed by `issuerId` ("ca" or an account id). */
async function revokedEntries(db: Database | Transaction, issuerId: string, userId?: number): Promise<x509.X509CrlEntryParams[]> {
  const condition =
    issuerId === caIssuerId
      ? and(eq(certificates.kind, "account"), isNotNull(certificates.revokedAt))
      : and(eq(certificates.kind, "device"), eq(certificates.userId, userId ?? -1), isNotNull(certificates.revokedAt));
  const rows = await db.select().from(certificates).where(condition);
  return rows.map((row) => ({
    serialNumber: row.serial,
    revocationDate: new Date(row.revokedAt!),
    reason: reasonCodes[(row.revocationReason ?? "unspecified") as RevocationReason] ?? x509.X509CrlReason.unspecified,
  }));
}

/** DER of an X.509 CRLNumber extension value: a positive INTEGER. */
function crlNumberValue(number: number): Uint8Array<ArrayBuffer> {
  let hex = number.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  if (parseInt(hex.slice(0, 2), 16) & 0x80) hex = `00${hex}`;
  const content = Buffer.from(hex, "hex");
  return bytes(Buffer.concat([Buffer.from([0x02, content.length]), content]));
}

/**
 * Signs a new CRL for `issuer` inside `tx` and stores it, with the next CRL number.
 * `userId` names the account's user for account CRLs.
 */
export async function rebuildCrl(
  tx: Transaction,
  issuer: Issuer,
  issuerId: string,
  settings: InstallSettings,
  userId?: number,
  now = new Date(),
): Promise<StoredCrl> {
  const previous = await readSetting<StoredCrl>(tx, cacheKey(issuerId));
  const number = (previous?.number ?? 0) + 1;
  const nextUpdate = new Date(now.getTime() + settings.crlLifetime);
  const crl = await x509.X509CrlGenerator.create({
    issuer: new x509.Name(bytes(certificateNames(new Uint8Array(issuer.certificate.rawData)).subject)),
    thisUpdate: now,
    nextUpdate,
    entries: await revokedEntries(tx, issuerId, userId),
    signingKey: await importSigningKey(issuer.key, signingHash(issuer.key)),
    signingAlgorithm:
      issuer.key.algorithm === "rsa" ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as Algorithm : { name: "ECDSA", hash: signingHash(issuer.key) },
    extensions: [
      new x509.Extension("2.5.29.20", false, crlNumberValue(number)),
      await authorityKeyIdentifier(issuer),
    ],
  });
  const stored: StoredCrl = {
    number,
    der: Buffer.from(crl.rawData).toString("base64"),
    thisUpdate: now.getTime(),
    nextUpdate: nextUpdate.getTime(),
  };
  await writeSetting(tx, cacheKey(issuerId), stored);
  log.info({ issuer: issuerId, number, entries: crl.entries.length }, "signed CRL");
  return stored;
}

/** Returns the current CRL of `issuerId`, signing a fresh one when half its lifetime has passed. */
export async function currentCrl(
  store: Store,
  issuer: Issuer,
  issuerId: string,
  settings: InstallSettings,
  userId?: number,
): Promise<StoredCrl> {
  const cached = await readSetting<StoredCrl>(store.db, cacheKey(issuerId));
  const now = Date.now();
  if (cached && now < cached.thisUpdate + (cached.nextUpdate - cached.thisUpdate) / 2) return cached;
  return store.write(async (tx) => {
    // Another request may have rebuilt it while this one waited for the write lock.
    const latest = await readSetting<StoredCrl>(tx, cacheKey(issuerId));
    if (latest && latest.number !== cached?.number) return latest;
    return rebuildCrl(tx, issuer, issuerId, settings, userId);
  });
}
