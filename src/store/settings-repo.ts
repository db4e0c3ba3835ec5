/** @module Typed access to the key-value `settings` table. */
import { eq } from "drizzle-orm";
import type { Database, Transaction } from "./database.ts";
import { settings } from "./schema.ts";

/** Reads and JSON-decodes one setting, or returns undefined when it is not set. */
export async function readSetting<T>(db: Database | Transaction, key: string): Promise<T | undefined> {
  const rows = await db.select().from(settings).where(eq(settings.key, key)).limit(1);
  return rows[0] ? (JSON.parse(rows[0].value) as T) : undefined;
}

/** Writes one setting as JSON, replacing any previous value. */
export async function writeSetting(db: Database | Transaction, key: string, value: unknown): Promise<void> {
  const text = JSON.stringify(value);
  await db.insert(settings).values({ key, value: text }).onConflictDoUpdate({ target: settings.key, set: { value: text } });
}
