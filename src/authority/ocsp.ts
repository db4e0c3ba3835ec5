/**
 * @module An RFC 6960 OCSP responder for every certificate this server issued.
 *
 * Each response is signed by the issuer of the certificate in question: the organisation CA for
 * account certificates, the account key for device certificates. Jami peers (dhtnet) accept
 * only a response signed directly by the issuer, so no delegated responder certificate is used.
 * The signer's certificate is included so tools such as `openssl ocsp` can build its chain.
 */
import * as ocsp from "@peculiar/asn1-ocsp";
import { AsnConvert, OctetString } from "@peculiar/asn1-schema";
import { AlgorithmIdentifier, Certificate, CRLReason, Extension } from "@peculiar/asn1-x509";
import { createHash } from "node:crypto";
import { eq } from "drizzle-orm";
import type { InstallSettings } from "../config/install-settings.ts";
import { readInstallSettings } from "../install/setup.ts";
import { logger } from "../log/logger.ts";
import { signingHash, type Issuer } from "../pki/certificates.ts";
import { certificateNames } from "../pki/der.ts";
import { bytes, importSigningKey } from "../pki/keys.ts";
import { x509 } from "../pki/x509.ts";
import type { Store } from "../store/database.ts";
import { accounts, certificates } from "../store/schema.ts";
import { accountFromRow } from "./accounts.ts";
import { loadCa } from "./ca.ts";
import type { RevocationReason } from "./revocation.ts";

const log = logger("ocsp");

const hashNames: Record<string, "sha1" | "sha256" | "sha384" | "sha512"> = {
  "1.3.14.3.2.26": "sha1",
  "2.16.840.1.101.3.4.2.1": "sha256",
  "2.16.840.1.101.3.4.2.2": "sha384",
  "2.16.840.1.101.3.4.2.3": "sha512",
};

/** Maximum number of certificates in one request. */
const maxRequests = 16;

const reasonCodes: Record<RevocationReason, number> = {
  unspecified: 0,
  keyCompromise: 1,
  superseded: 4,
  cessationOfOperation: 5,
  privilegeWithdrawn: 9,
};

/** Builds the DER OCSP response to a DER OCSP request; malformed input gets an error status. */
export async function answerOcspRequest(store: Store, requestDer: Uint8Array): Promise<Uint8Array> {
  let request: ocsp.OCSPRequest;
  try {
    request = AsnConvert.parse(bytes(requestDer), ocsp.OCSPRequest);
  } catch {
    return statusOnly(ocsp.OCSPResponseStatus.malformedRequest);
  }
  const requested = request.tbsRequest.requestList;
  if (requested.length === 0 || requested.length > maxRequests) return statusOnly(ocsp.OCSPResponseStatus.malformedRequest);
  const settings = await readInstallSettings(store.db);
  if (!settings) return statusOnly(ocsp.OCSPResponseStatus.tryLater);

  const first = await findIssuer(store, requested[0]!.reqCert);
  if (!first) return statusOnly(ocsp.OCSPResponseStatus.unauthorized);
  // RFC 6960 takes RFC 5280's GeneralizedTime, which allows no fractional seconds.
  const now = wholeSeconds(Date.now());
  const responses: ocsp.SingleResponse[] = [];
  for (const { reqCert } of requested) responses.push(await singleResponse(store, first, reqCert, settings, now));
  return sign(first, responses, nonceOf(request), now);
}

/** An issuer that may sign responses: its certificate, key, and which certificates it signs. */
interface Signer extends Issuer {
  kind: "ca" | "account";
  userId?: number;
}

/** Finds the issuer named by a CertID's name and key hashes: the CA, or one of the accounts. */
async function findIssuer(store: Store, certId: ocsp.CertID): Promise<Signer | undefined> {
  const ca = await loadCa(store.db);
  if (ca && matchesIssuer(certId, ca)) return { ...ca, kind: "ca" };
  const serial = serialHex(certId);
  const row = (await store.db.select().from(certificates).where(eq(certificates.serial, serial)).limit(1))[0];
  if (row?.kind === "device" && row.userId !== null) {
    const accountRow = (await store.db.select().from(accounts).where(eq(accounts.userId, row.userId)).limit(1))[0];
    if (accountRow) {
      const account = accountFromRow(accountRow);
      if (matchesIssuer(certId, account)) return { ...account, kind: "account", userId: row.userId };
    }
  }
  // NOTE: an unknown serial under an account key gets "unauthorized", not "unknown": finding the
  // account from its key hash alone would mean hashing every account key per request.
  return undefined;
}

function matchesIssuer(certId: ocsp.CertID, issuer: Issuer): boolean {
  const hash = hashNames[certId.hashAlgorithm.algorithm];
  if (!hash) return false;
  const der = new Uint8Array(issuer.certificate.rawData);
  const nameHash = createHash(hash).update(certificateNames(der).subject).digest();
  const keyHash = createHash(hash).update(publicKeyBits(issuer)).digest();
  return nameHash.equals(Buffer.from(certId.issuerNameHash.buffer)) && keyHash.equals(Buffer.from(certId.issuerKeyHash.buffer));
}

/** Returns the contents of the subjectPublicKey BIT STRING, which OCSP key hashes cover. */
function publicKeyBits(issuer: Issuer): Uint8Array {
  const certificate = AsnConvert.parse(issuer.certificate.rawData, Certificate);
  return new Uint8Array(certificate.tbsCertificate.subjectPublicKeyInfo.subjectPublicKey);
}

function serialHex(certId: ocsp.CertID): string {
  return Buffer.from(certId.serialNumber).toString("hex").replace(/^(00)+(?=[0-9a-f]{2})/, "");
}

async function singleResponse(
  store: Store,
  signer: Signer,
  certId: ocsp.CertID,
  settings: InstallSettings,
  now: Date,
): Promise<ocsp.SingleResponse> {
  const row = (await store.db.select().from(certificates).where(eq(certificates.serial, serialHex(certId))).limit(1))[0];
  const issuedBySigner =
    row !== undefined &&
    matchesIssuer(certId, signer) &&
    (signer.kind === "ca" ? row.kind === "account" : row.kind === "device" && row.userId === signer.userId);
  let status: ocsp.CertStatus;
  if (!issuedBySigner) status = new ocsp.CertStatus({ unknown: null });
  else if (row.revokedAt !== null) {
    const reason = reasonCodes[(row.revocationReason ?? "unspecified") as RevocationReason] ?? 0;
    status = new ocsp.CertStatus({
      revoked: new ocsp.RevokedInfo({ revocationTime: wholeSeconds(row.revokedAt), revocationReason: new CRLReason(reason) }),
    });
  } else status = new ocsp.CertStatus({ good: null });
  return new ocsp.SingleResponse({
    certID: certId,
    certStatus: status,
    thisUpdate: now,
    nextUpdate: new Date(now.getTime() + settings.crlLifetime),
  });
}

function nonceOf(request: ocsp.OCSPRequest): Extension | undefined {
  const nonce = request.tbsRequest.requestExtensions?.find((extension) => extension.extnID === ocsp.id_pkix_ocsp_nonce);
  return nonce ? new Extension({ extnID: ocsp.id_pkix_ocsp_nonce, critical: false, extnValue: nonce.extnValue }) : undefined;
}

async function sign(signer: Signer, responses: ocsp.SingleResponse[], nonce: Extension | undefined, now: Date): Promise<Uint8Array> {
  const keyHash = createHash("sha1").update(publicKeyBits(signer)).digest();
  const data = new ocsp.ResponseData({
    responderID: new ocsp.ResponderID({ byKey: new ocsp.KeyHash(bytes(keyHash)) }),
    producedAt: now,
    responses,
    responseExtensions: nonce ? [nonce] : undefined,
  });
  const tbs = AsnConvert.serialize(data);
  const hash = signingHash(signer.key);
  const key = await importSigningKey(signer.key, hash);
  const algorithm = signer.key.algorithm === "rsa" ? { name: "RSASSA-PKCS1-v1_5" } : { name: "ECDSA", hash };
  let signature: ArrayBuffer = await globalThis.crypto.subtle.sign(algorithm, key, tbs);
  if (signer.key.algorithm === "ec") {
    // WebCrypto returns r||s; X.509 structures carry the DER SEQUENCE of two INTEGERs.
    signature = new x509.AsnEcSignatureFormatter().toAsnSignature({ name: "ECDSA", hash } as Algorithm, signature) ?? signature;
  }
  const basic = new ocsp.BasicOCSPResponse({
    tbsResponseData: data,
    signatureAlgorithm: signatureAlgorithm(signer),
    signature,
    certs: [AsnConvert.parse(signer.certificate.rawData, Certificate)],
  });
  const response = new ocsp.OCSPResponse({
    responseStatus: ocsp.OCSPResponseStatus.successful,
    responseBytes: new ocsp.ResponseBytes({
      responseType: ocsp.id_pkix_ocsp_basic,
      response: new OctetString(AsnConvert.serialize(basic)),
    }),
  });
  log.debug({ signer: signer.kind, responses: responses.length }, "signed OCSP response");
  return new Uint8Array(AsnConvert.serialize(response));
}

function signatureAlgorithm(signer: Signer): AlgorithmIdentifier {
  if (signer.key.algorithm === "rsa") {
    // sha256WithRSAEncryption with NULL parameters.
    return new AlgorithmIdentifier({ algorithm: "1.2.840.113549.1.1.11", parameters: new Uint8Array([5, 0]).buffer });
  }
  const oid = signingHash(signer.key) === "SHA-384" ? "1.2.840.10045.4.3.3" : "1.2.840.10045.4.3.2";
  return new AlgorithmIdentifier({ algorithm: oid });
}

function wholeSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

function statusOnly(status: ocsp.OCSPResponseStatus): Uint8Array {
  return new Uint8Array(AsnConvert.serialize(new ocsp.OCSPResponse({ responseStatus: status })));
}
