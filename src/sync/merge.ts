/**
 * @module Merging what a user's devices report about contacts, conversations and conversation
 * requests. The union is kept by key; an empty report never deletes anything. For each key the
 * latest event wins: timestamps take their maximum, the other fields come from the report with
 * the newest timestamp, conversation members are united and request metadata merged.
 */
import { badRequest } from "../api/errors.ts";

export type SyncKind = "contact" | "conversation" | "conversationRequest";
export type SyncItem = Record<string, unknown>;

interface KindSpec {
  key: string;
  /** Timestamp fields; names ending in `Ms` are milliseconds, the others seconds. */
  timestamps: string[];
  booleans: string[];
}

export const kinds: Record<SyncKind, KindSpec> = {
  contact: {
    key: "uri",
    timestamps: ["added", "addedMs", "removed", "removedMs"],
    booleans: ["confirmed", "banned"],
  },
  conversation: {
    key: "id",
    timestamps: ["created", "createdMs", "removed", "removedMs", "erased", "erasedMs"],
    booleans: [],
  },
  conversationRequest: {
    key: "conversationId",
    timestamps: ["received", "receivedMs", "declined", "declinedMs"],
    booleans: [],
  },
};

/**
 * Maximum items one report may carry, and one user may have stored per kind. Jami accounts
 * rarely have more than a few thousand contacts; the cap keeps one device from filling the disk.
 */
export const maxItems = 10_000;

/** A Jami URI (account id): 40 hexadecimal characters. */
const jamiUri = /^[0-9a-fA-F]{40}$/;
const maxKeyLength = 256;
const maxItemBytes = 16 * 1024;

/** Checks a report and returns its items; anything malformed is a 400 and nothing is stored. */
export function readReport(kind: SyncKind, body: unknown): SyncItem[] {
  if (!Array.isArray(body)) throw badRequest("invalid_request", "the body must be a JSON array");
  if (body.length > maxItems) throw badRequest("invalid_request", `at most ${maxItems} items per request`);
  return body.map((item, index) => checkItem(kind, item, index));
}

function checkItem(kind: SyncKind, item: unknown, index: number): SyncItem {
  const spec = kinds[kind];
  const fail = (why: string) => badRequest("invalid_request", `item ${index}: ${why}`);
  if (typeof item !== "object" || item === null || Array.isArray(item)) throw fail("must be a JSON object");
  const value = item as SyncItem;
  const key = value[spec.key];
  if (typeof key !== "string" || key === "" || key.length > maxKeyLength) {
    throw fail(`${spec.key} must be a string of 1 to ${maxKeyLength} characters`);
  }
  for (const field of spec.timestamps) {
    const time = value[field];
    if (time !== undefined && !(Number.isSafeInteger(time) && (time as number) >= 0)) {
      throw fail(`${field} must be a non-negative integer`);
    }
  }
  for (const field of spec.booleans) {
    if (value[field] !== undefined && typeof value[field] !== "boolean") throw fail(`${field} must be a boolean`);
  }
  if (kind === "contact" && !jamiUri.test(key)) throw fail("uri must be a Jami account id (40 hexadecimal characters)");
  if (kind === "conversationRequest" && value.from !== undefined && (typeof value.from !== "string" || !jamiUri.test(value.from))) {
    throw fail("from must be a Jami account id (40 hexadecimal characters)");
  }
  if (kind === "conversation") checkMembers(value.members, fail);
  if (kind === "conversationRequest") checkMetadata(value.metadatas, fail);
  if (JSON.stringify(value).length > maxItemBytes) throw fail(`larger than ${maxItemBytes} bytes`);
  return value;
}

function checkMembers(members: unknown, fail: (why: string) => Error): void {
  if (members === undefined) return;
  if (!Array.isArray(members) || !members.every((m) => typeof m === "object" && m !== null && typeof (m as SyncItem).uri === "string")) {
    throw fail('members must be an array of {"uri": string}');
  }
}

function checkMetadata(metadata: unknown, fail: (why: string) => Error): void {
  if (metadata === undefined) return;
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) throw fail("metadatas must be an object");
  if (!Object.values(metadata).every((v) => typeof v === "string")) throw fail("metadatas values must be strings");
}

/** Returns the key of an item. */
export function keyOf(kind: SyncKind, item: SyncItem): string {
  return item[kinds[kind].key] as string;
}

/** Returns the item's latest event time in milliseconds. */
function latest(kind: SyncKind, item: SyncItem): number {
  let newest = 0;
  for (const field of kinds[kind].timestamps) {
    const time = item[field];
    if (typeof time === "number") newest = Math.max(newest, field.endsWith("Ms") ? time : time * 1000);
  }
  return newest;
}

/** Merges a stored item with a reported one. */
export function mergeItem(kind: SyncKind, stored: SyncItem | undefined, reported: SyncItem): SyncItem {
  if (!stored) return reported;
  const reportedIsNewer = latest(kind, reported) >= latest(kind, stored);
  const [older, newer] = reportedIsNewer ? [stored, reported] : [reported, stored];
  const merged: SyncItem = { ...older, ...newer };
  for (const field of kinds[kind].timestamps) {
    const times = [stored[field], reported[field]].filter((t): t is number => typeof t === "number");
    if (times.length > 0) merged[field] = Math.max(...times);
  }
  if (kind === "conversation") merged.members = unionMembers(stored.members, reported.members);
  if (kind === "conversationRequest" && (older.metadatas || newer.metadatas)) {
    merged.metadatas = { ...(older.metadatas as object), ...(newer.metadatas as object) };
  }
  if (merged.members === undefined) delete merged.members;
  return merged;
}

function unionMembers(a: unknown, b: unknown): SyncItem[] | undefined {
  const all = [...((a as SyncItem[]) ?? []), ...((b as SyncItem[]) ?? [])];
  if (all.length === 0) return undefined;
  const byUri = new Map<string, SyncItem>();
  for (const member of all) byUri.set(member.uri as string, { ...byUri.get(member.uri as string), ...member });
  return [...byUri.values()];
}
