/**
 * @module The canonical msgpack subset OpenDHT re-encodes before checking a signature: maps with
 * string keys in the given order, unsigned integers in their smallest form, and byte strings as
 * bin in their smallest form. `Raw` splices bytes that were already encoded.
 */

/** Bytes that are already msgpack and are copied as they are. */
export class Raw {
  constructor(readonly bytes: Uint8Array) {}
}

export type PackValue = number | string | Uint8Array | Raw | PackMap;
export type PackMap = [key: string, value: PackValue][];

/** Encodes `value`; maps are arrays of [key, value] pairs so their order is explicit. */
export function pack(value: PackValue): Uint8Array {
  const out: number[] = [];
  write(out, value);
  return Uint8Array.from(out);
}

function write(out: number[], value: PackValue): void {
  if (typeof value === "number") writeUint(out, value);
  else if (typeof value === "string") writeString(out, value);
  else if (value instanceof Raw) out.push(...value.bytes);
  else if (value instanceof Uint8Array) writeBin(out, value);
  else writeMap(out, value);
}

function writeUint(out: number[], value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`not an unsigned integer: ${value}`);
  if (value < 0x80) out.push(value);
  else if (value < 0x100) out.push(0xcc, value);
  else if (value < 0x10000) out.push(0xcd, value >> 8, value & 0xff);
  else if (value < 0x100000000) out.push(0xce, ...bigEndian(value, 4));
  else out.push(0xcf, ...bigEndian(value, 8));
}

function writeString(out: number[], value: string): void {
  const bytes = new TextEncoder().encode(value);
  if (bytes.length < 32) out.push(0xa0 | bytes.length);
  else if (bytes.length < 0x100) out.push(0xd9, bytes.length);
  else if (bytes.length < 0x10000) out.push(0xda, ...bigEndian(bytes.length, 2));
  else out.push(0xdb, ...bigEndian(bytes.length, 4));
  out.push(...bytes);
}

function writeBin(out: number[], bytes: Uint8Array): void {
  if (bytes.length < 0x100) out.push(0xc4, bytes.length);
  else if (bytes.length < 0x10000) out.push(0xc5, ...bigEndian(bytes.length, 2));
  else out.push(0xc6, ...bigEndian(bytes.length, 4));
  out.push(...bytes);
}

function writeMap(out: number[], entries: PackMap): void {
  if (entries.length < 16) out.push(0x80 | entries.length);
  else out.push(0xde, ...bigEndian(entries.length, 2));
  for (const [key, value] of entries) {
    writeString(out, key);
    write(out, value);
  }
}

function bigEndian(value: number, size: number): number[] {
  const bytes: number[] = [];
  for (let i = size - 1; i >= 0; i--) bytes.push(Number((BigInt(value) >> BigInt(i * 8)) & 0xffn));
  return bytes;
}
