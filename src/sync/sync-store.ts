/** @module Stores the merged sync state of each user and applies device reports to it. */
import { and, eq } from "drizzle-orm";
import type { Store } from "../store/database.ts";
import { syncItems } from "../store/schema.ts";
import { badRequest } from "../api/errors.ts";
import { keyOf, maxItems, mergeItem, type SyncItem, type SyncKind } from "./merge.ts";

/**
 * Merges `reported` into the user's stored items of `kind` in one transaction and returns the
 * whole merged list. Items keyed `ignoredKey` (the account's own URI) are dropped.
 */
export async function applyReport(
  store: Store,
  userId: number,
  kind: SyncKind,
  reported: SyncItem[],
  ignoredKey?: string,
): Promise<SyncItem[]> {
  return store.write(async (tx) => {
    const rows = await tx
      .select()
      .from(syncItems)
      .where(and(eq(syncItems.userId, userId), eq(syncItems.kind, kind)));
    const items = new Map(rows.map((row) => [row.key, JSON.parse(row.payload) as SyncItem]));
    const added = new Set(reported.map((item) => keyOf(kind, item)).filter((key) => !items.has(key) && key !== ignoredKey));
    if (items.size + added.size > maxItems) {
      throw badRequest("sync_limit_exceeded", `a user may keep at most ${maxItems} items of this kind; ${items.size} are stored`);
    }
    const now = Date.now();
    for (const item of reported) {
      const key = keyOf(kind, item);
      if (key === ignoredKey) continue;
      const merged = mergeItem(kind, items.get(key), item);
      items.set(key, merged);
      const payload = JSON.stringify(merged);
      await tx
        .insert(syncItems)
        .values({ userId, kind, key, payload, updatedAt: now })
        .onConflictDoUpdate({ target: [syncItems.userId, syncItems.kind, syncItems.key], set: { payload, updatedAt: now } });
    }
    return [...items.values()];
  });
}
