/** @module PEM encoding and decoding. */

/** Wraps DER bytes in PEM armour with 64-column lines and a trailing newline. */
export function toPem(der: Uint8Array, label: string): string {
  const base64 = Buffer.from(der).toString("base64");
  const lines = base64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

/** One decoded PEM block. */
export interface PemBlock {
  label: string;
  der: Buffer;
}

const blockPattern = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;

/** Returns every PEM block of `text` in order. Tolerates CRLF and missing line breaks. */
export function readPemBlocks(text: string): PemBlock[] {
  const blocks: PemBlock[] = [];
  for (const match of text.matchAll(blockPattern)) {
    const body = match[2]!.replace(/\s+/g, "");
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(body) || body.length === 0) {
      throw new Error(`the ${match[1]} block is not valid base64`);
    }
    blocks.push({ label: match[1]!, der: Buffer.from(body, "base64") });
  }
  return blocks;
}

/** Returns the certificates of a PEM bundle as DER, in file order. */
export function readCertificateBlocks(text: string): Buffer[] {
  return readPemBlocks(text)
    .filter((block) => block.label === "CERTIFICATE")
    .map((block) => block.der);
}
