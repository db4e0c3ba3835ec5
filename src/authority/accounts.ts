/**
 * @module A user's Jami identity: the RSA account key and its CA certificate, created at the
 * user's first enrollment and kept by the server, which signs device certificates and receipts
 * with it.
 */
import { eq } from "drizzle-orm";
import type { InstallSettings } from "../config/install-settings.ts";
import { logger } from "../log/logger.ts";
import { issueAccountCertificate, type Issuer } from "../pki/certificates.ts";
import { shortId } from "../pki/ids.ts";
import { generateRsaKey } from "../pki/keys.ts";
import { x509 } from "../pki/x509.ts";
import type { Database, Store } from "../store/database.ts";
import { accounts, certificates, type AccountRow, type UserRow } from "../store/schema.ts";
import { caIssuerId, revocationUrlsFor } from "./revocation-urls.ts";

const log = logger("accounts");

/** A loaded account: its id (40 hex), certificate and key, usable as an issuer. */
export interface Account extends Issuer {
  accountId: string;
  row: AccountRow;
}

/** Turns a stored account row into an issuer. */
export function accountFromRow(row: AccountRow): Account {
  const certificate = new x509.X509Certificate(row.certificatePem);
  const spki = new Uint8Array(certificate.publicKey.rawData);
  return { accountId: row.accountId, row, certificate, key: { pkcs8: new Uint8Array(row.privateKeyDer), spki, algorithm: "rsa" } };
}

/** Loads the account of a user, or undefined when the user never enrolled. */
export async function findAccount(db: Database, userId: number): Promise<Account | undefined> {
  const row = (await db.select().from(accounts).where(eq(accounts.userId, userId)).limit(1))[0];
  return row ? accountFromRow(row) : undefined;
}

const pending = new Map<number, Promise<Account>>();

/**
 * An account certificate is renewed when less than this share of its lifetime is left, so
 * device certificates, which never outlive it, keep a useful validity.
 */
const renewWhenRemaining = 1 / 3;

/**
 * Returns the user's account, creating the key (RSA 4096) and certificate on first use and
 * renewing the certificate (same key, so the same account id) when it nears expiry. Calls for
 * the same user share one creation, so concurrent first enrollments get one identity.
 */
export async function ensureAccount(
  store: Store,
  ca: Issuer,
  user: UserRow,
  settings: InstallSettings,
  now = new Date(),
): Promise<Account> {
  const existing = await findAccount(store.db, user.id);
  if (existing && !needsRenewal(existing, now)) return existing;
  let work = pending.get(user.id);
  if (!work) {
    const run = existing ? renewAccount(store, ca, user, existing, settings, now) : createAccount(store, ca, user, settings, now);
    work = run.finally(() => pending.delete(user.id));
    pending.set(user.id, work);
  }
  return work;
}

function needsRenewal(account: Account, now: Date): boolean {
  const { notBefore, notAfter } = account.certificate;
  const lifetime = notAfter.getTime() - notBefore.getTime();
  return notAfter.getTime() - now.getTime() < lifetime * renewWhenRemaining;
}

async function renewAccount(
  store: Store,
  ca: Issuer,
  user: UserRow,
  account: Account,
  settings: InstallSettings,
  now: Date,
): Promise<Account> {
  const urls = revocationUrlsFor(settings, caIssuerId);
  const issued = await issueAccountCertificate(ca, account.key.spki, user.username, settings.userLifetime, now, urls);
  const changes = { certificatePem: issued.pem, serial: issued.serial, notAfter: issued.notAfter.getTime() };
  await store.write(async (tx) => {
    await tx.update(accounts).set(changes).where(eq(accounts.userId, user.id));
    await tx.insert(certificates).values({
      serial: issued.serial,
      kind: "account",
      subject: issued.certificate.subject,
      userId: user.id,
      issuedAt: now.getTime(),
      notAfter: changes.notAfter,
    });
  });
  log.info({ user: user.username, accountId: account.accountId, serial: issued.serial, notAfter: issued.notAfter }, "renewed account certificate");
  return accountFromRow({ ...account.row, ...changes });
}

async function createAccount(
  store: Store,
  ca: Issuer,
  user: UserRow,
  settings: InstallSettings,
  now: Date,
): Promise<Account> {
  const started = Date.now();
  const key = await generateRsaKey(4096);
  const urls = revocationUrlsFor(settings, caIssuerId);
  const issued = await issueAccountCertificate(ca, key.spki, user.username, settings.userLifetime, now, urls);
  const accountId = shortId(key.spki);
  const row: AccountRow = {
    userId: user.id,
    accountId,
    certificatePem: issued.pem,
    privateKeyDer: Buffer.from(key.pkcs8),
    serial: issued.serial,
    notAfter: issued.notAfter.getTime(),
    createdAt: now.getTime(),
  };
  await store.write(async (tx) => {
    await tx.insert(accounts).values(row);
    await tx.insert(certificates).values({
      serial: issued.serial,
      kind: "account",
      subject: issued.certificate.subject,
      userId: user.id,
      issuedAt: row.createdAt,
      notAfter: row.notAfter,
    });
  });
  log.info({ user: user.username, accountId, serial: issued.serial, ms: Date.now() - started }, "created account identity");
  return accountFromRow(row);
}
