/**
 * @module The device receipt and its DHT announce, as the Jami client checks them.
 *
 * The receipt is the compact JSON text `{"id","dev","eth","announce"}`. `receiptSignature` is an
 * RSA PKCS#1 v1.5 SHA-512 signature by the account key over the receipt's exact UTF-8 bytes.
 * The announce is an OpenDHT value (msgpack) whose body the account key signs; the client
 * re-encodes the body canonically before verifying, so the bytes signed here are the canonical
 * ones and the same bytes are embedded.
 */
import { signRsaSha512, type StoredKey } from "../pki/keys.ts";
import { pack, Raw } from "./msgpack.ts";

/** OpenDHT value type USER_DATA. */
const userDataType = 0;

/** A signed receipt, ready for the enrollment reply. */
export interface SignedReceipt {
  deviceReceipt: string;
  receiptSignature: string;
}

/** Builds and signs the receipt that names the account the device belongs to. */
export async function signDeviceReceipt(input: {
  accountKey: StoredKey;
  accountId: string;
  deviceShortId: string;
  deviceSpki: Uint8Array;
}): Promise<SignedReceipt> {
  const announce = await buildAnnounce(input);
  const receipt = JSON.stringify({
    id: input.accountId,
    dev: input.deviceShortId,
    eth: "",
    announce: Buffer.from(announce).toString("base64"),
  });
  const signature = await signRsaSha512(input.accountKey, new TextEncoder().encode(receipt));
  return { deviceReceipt: receipt, receiptSignature: Buffer.from(signature).toString("base64") };
}

/** Builds the signed OpenDHT value that announces the device under the account id. */
export async function buildAnnounce(input: {
  accountKey: StoredKey;
  deviceShortId: string;
  deviceSpki: Uint8Array;
}): Promise<Uint8Array> {
  const data = pack([
    ["dev", Buffer.from(input.deviceShortId, "hex")],
    ["pk", input.deviceSpki],
  ]);
  const body = pack([
    ["seq", 0],
    ["owner", input.accountKey.spki],
    ["type", userDataType],
    ["data", data],
  ]);
  const signature = await signRsaSha512(input.accountKey, body);
  return pack([
    ["id", 0],
    ["dat", [["body", new Raw(body)], ["sig", signature]]],
  ]);
}
