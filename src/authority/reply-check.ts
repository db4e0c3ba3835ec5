/**
 * @module A last check of an enrollment reply before it is sent: a reply the Jami client cannot
 * use makes it delete the account, so the server would rather fail with 500 than send one.
 */
import { certificateNames, sameBytes } from "../pki/der.ts";
import { x509 } from "../pki/x509.ts";

/** Throws when the chain (device, account, CA) or the receipt signature would fail the client's checks. */
export async function assertReplyUsable(input: {
  chain: x509.X509Certificate[];
  deviceSpki: Uint8Array;
  receipt: string;
  receiptSignature: string;
}): Promise<void> {
  const [device, account, ca] = input.chain;
  if (!device || !account || !ca) throw new Error("certificate chain must hold device, account and CA");
  if (!sameBytes(new Uint8Array(device.publicKey.rawData), input.deviceSpki)) {
    throw new Error("device certificate key differs from the CSR key");
  }
  for (let i = 0; i + 1 < input.chain.length; i++) {
    const child = input.chain[i]!;
    const parent = input.chain[i + 1]!;
    const childNames = certificateNames(new Uint8Array(child.rawData));
    const parentNames = certificateNames(new Uint8Array(parent.rawData));
    if (!sameBytes(childNames.issuer, parentNames.subject)) {
      throw new Error(`issuer of chain element ${i} is not byte-identical to the subject of element ${i + 1}`);
    }
    if (!(await child.verify({ publicKey: parent.publicKey, signatureOnly: true }))) {
      throw new Error(`chain element ${i} is not signed by element ${i + 1}`);
    }
  }
  const accountKey = await account.publicKey.export({ name: "RSASSA-PKCS1-v1_5", hash: "SHA-512" }, ["verify"]);
  const valid = await globalThis.crypto.subtle.verify(
    "RSASSA-PKCS1-v1_5",
    accountKey,
    Buffer.from(input.receiptSignature, "base64"),
    new TextEncoder().encode(input.receipt),
  );
  if (!valid) throw new Error("receipt signature does not verify with the account key");
}
