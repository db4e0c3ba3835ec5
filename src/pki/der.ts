/**
 * @module Minimal DER walking, to read the exact bytes of a certificate's issuer and subject.
 * Jami clients compare those bytes between adjacent certificates of a chain.
 */

interface Tlv {
  tag: number;
  start: number;
  contentStart: number;
  end: number;
}

function readTlv(der: Uint8Array, offset: number): Tlv {
  const tag = der[offset]!;
  let length = der[offset + 1]!;
  let contentStart = offset + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    if (count === 0 || count > 4) throw new Error("unsupported DER length");
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[contentStart + i]!;
    contentStart += count;
  }
  const end = contentStart + length;
  if (end > der.length) throw new Error("truncated DER");
  return { tag, start: offset, contentStart, end };
}

/** Returns the DER bytes of the issuer and subject Names of an X.509 certificate. */
export function certificateNames(der: Uint8Array): { issuer: Uint8Array; subject: Uint8Array } {
  const certificate = readTlv(der, 0);
  const tbs = readTlv(der, certificate.contentStart);
  let field = readTlv(der, tbs.contentStart);
  if (field.tag === 0xa0) field = readTlv(der, field.end); // explicit version
  const algorithm = readTlv(der, field.end); // after the serial number
  const issuer = readTlv(der, algorithm.end);
  const validity = readTlv(der, issuer.end);
  const subject = readTlv(der, validity.end);
  return {
    issuer: der.subarray(issuer.start, issuer.end),
    subject: der.subarray(subject.start, subject.end),
  };
}

/** Compares two byte arrays. */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((byte, i) => byte === b[i]);
}
