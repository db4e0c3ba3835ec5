/**
 * @module Certificate profiles of the Jami chain: organisation CA → account (a CA) → device.
 *
 * Jami clients verify this chain with GnuTLS (profile MEDIUM: RSA ≥ 2048, SHA-256 or better),
 * require the account certificate to be a CA with keyCertSign, and read `UID=<account id>` from
 * the device certificate's issuer DN, which must be byte-identical to the account subject.
 */
import { certificateNames } from "./der.ts";
import { randomSerial, shortId } from "./ids.ts";
import { bytes, importPublicKey, importSigningKey, type Bytes, type StoredKey } from "./keys.ts";
import { x509 } from "./x509.ts";

/** OID of the LDAP `uid` attribute (RFC 4519) that Jami puts in certificate names. */
export const uidOid = "0.9.2342.19200300.100.1.1";

/** Certificates start one minute in the past so a client whose clock lags slightly accepts them. */
const backdateMs = 60_000;

/** A signer: a CA or an account certificate with its key. */
export interface Issuer {
  certificate: x509.X509Certificate;
  key: StoredKey;
}

/** An issued certificate with its PEM, serial and expiry. */
export interface IssuedCertificate {
  certificate: x509.X509Certificate;
  pem: string;
  serial: string;
  notAfter: Date;
}

/** Subject fields of a generated organisation CA. */
export interface CaSubject {
  commonName: string;
  organization?: string;
  organizationalUnit?: string;
  locality?: string;
  state?: string;
  country?: string;
}

/** Creates a self-signed organisation CA certificate for `key`, valid for `lifetimeMs`. */
export async function createCaCertificate(
  key: StoredKey,
  subject: CaSubject,
  lifetimeMs: number,
  now = new Date(),
): Promise<IssuedCertificate> {
  const name = caName(subject, shortId(key.spki));
  const publicKey = await importPublicKey(key);
  const serial = randomSerial();
  const notAfter = new Date(now.getTime() + lifetimeMs);
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject: name,
    issuer: name,
    notBefore: new Date(now.getTime() - backdateMs),
    notAfter,
    publicKey,
    signingKey: await importSigningKey(key, signingHash(key)),
    signingAlgorithm: signingAlgorithm(key),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
    ],
  });
  return issued(certificate, serial, notAfter);
}

/** URLs where relying parties check a certificate's revocation status. */
export interface RevocationUrls {
  /** URL of the CRL of the certificate's issuer. */
  crl: string;
  /** URL of the OCSP responder. */
  ocsp: string;
}

function revocationExtensions(urls: RevocationUrls | undefined): x509.Extension[] {
  if (!urls) return [];
  return [new x509.CRLDistributionPointsExtension([urls.crl]), new x509.AuthorityInfoAccessExtension({ ocsp: urls.ocsp })];
}

/** Issues an account certificate: a CA named `CN=<username>, UID=<account id>`. */
export async function issueAccountCertificate(
  ca: Issuer,
  accountSpki: Bytes,
  username: string,
  lifetimeMs: number,
  now = new Date(),
  urls?: RevocationUrls,
): Promise<IssuedCertificate> {
  const publicKey = await importPublicKey({ spki: accountSpki, algorithm: "rsa" });
  const subject: x509.JsonName = [{ CN: [username] }, { [uidOid]: [shortId(accountSpki)] }];
  const usages = x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature;
  return issue(ca, publicKey, subject, lifetimeMs, now, [
    new x509.BasicConstraintsExtension(true, undefined, true),
    new x509.KeyUsagesExtension(usages, true),
    ...revocationExtensions(urls),
  ]);
}

/** Issues a device certificate (end entity) signed by the account key. */
export async function issueDeviceCertificate(
  account: Issuer,
  deviceSpki: Bytes,
  lifetimeMs: number,
  now = new Date(),
  urls?: RevocationUrls,
): Promise<IssuedCertificate> {
  const publicKey = await importPublicKey({ spki: deviceSpki, algorithm: "rsa" });
  const subject: x509.JsonName = [{ CN: ["Jami device"] }, { [uidOid]: [shortId(deviceSpki)] }];
  const usages =
    x509.KeyUsageFlags.digitalSignature |
    x509.KeyUsageFlags.keyEncipherment |
    x509.KeyUsageFlags.dataEncipherment;
  return issue(account, publicKey, subject, lifetimeMs, now, [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(usages, true),
    ...revocationExtensions(urls),
  ]);
}

async function issue(
  issuer: Issuer,
  publicKey: CryptoKey,
  subject: x509.JsonName,
  lifetimeMs: number,
  now: Date,
  extensions: x509.Extension[],
): Promise<IssuedCertificate> {
  const serial = randomSerial();
  // A certificate never outlives the certificate of its issuer.
  const limit = issuer.certificate.notAfter.getTime();
  const notAfter = new Date(Math.min(now.getTime() + lifetimeMs, limit));
  const issuerName = new x509.Name(bytes(certificateNames(new Uint8Array(issuer.certificate.rawData)).subject));
  const certificate = await x509.X509CertificateGenerator.create({
    serialNumber: serial,
    subject,
    issuer: issuerName,
    notBefore: new Date(now.getTime() - backdateMs),
    notAfter,
    publicKey,
    signingKey: await importSigningKey(issuer.key, signingHash(issuer.key)),
    signingAlgorithm: signingAlgorithm(issuer.key),
    extensions: [
      ...extensions,
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      await authorityKeyIdentifier(issuer),
    ],
  });
  return issued(certificate, serial, notAfter);
}

/**
 * Builds the authority key identifier from the issuer's own subject key identifier when it has
 * one (an imported CA may use another key id method), so verifiers match issuer and child.
 */
export async function authorityKeyIdentifier(issuer: Issuer): Promise<x509.AuthorityKeyIdentifierExtension> {
  const subjectKeyId = issuer.certificate.getExtension(x509.SubjectKeyIdentifierExtension);
  if (subjectKeyId) return new x509.AuthorityKeyIdentifierExtension(subjectKeyId.keyId);
  return x509.AuthorityKeyIdentifierExtension.create(await importPublicKey(issuer.key));
}

function issued(certificate: x509.X509Certificate, serial: string, notAfter: Date): IssuedCertificate {
  return { certificate, pem: certificate.toString("pem") + "\n", serial, notAfter };
}

function caName(subject: CaSubject, uid: string): x509.JsonName {
  const name: x509.JsonName = [];
  if (subject.country) name.push({ C: [subject.country] });
  if (subject.state) name.push({ ST: [subject.state] });
  if (subject.locality) name.push({ L: [subject.locality] });
  if (subject.organization) name.push({ O: [subject.organization] });
  if (subject.organizationalUnit) name.push({ OU: [subject.organizationalUnit] });
  name.push({ CN: [subject.commonName] });
  // The CA's own key id as UID lets Jami's certificate store stop its issuer walk here.
  name.push({ [uidOid]: [uid] });
  return name;
}

/** SHA-256 for RSA and P-256 keys, SHA-384 for P-384. */
export function signingHash(key: StoredKey): "SHA-256" | "SHA-384" {
  return key.algorithm === "ec" && key.curve === "P-384" ? "SHA-384" : "SHA-256";
}

function signingAlgorithm(key: StoredKey): Algorithm | EcdsaParams {
  return key.algorithm === "rsa"
    ? { name: "RSASSA-PKCS1-v1_5", hash: "SHA-256" } as Algorithm
    : { name: "ECDSA", hash: signingHash(key) };
}
