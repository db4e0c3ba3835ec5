/**
 * @module Opens the libSQL database in the data directory and applies the embedded migrations.
 */
import { createClient, type Client } from "@libsql/client";
import { drizzle, type LibSQLDatabase } from "drizzle-orm/libsql";
import { closeSync, chmodSync, mkdirSync, openSync, statSync } from "node:fs";
import { join, resolve } from "node:path";
import { logger } from "../log/logger.ts";
import { migrations } from "./migrations.generated.ts";
import * as schema from "./schema.ts";

export type Database = LibSQLDatabase<typeof schema>;
export type Transaction = Parameters<Parameters<Database["transaction"]>[0]>[0];

/** An open database with a write lock that serialises transactions inside this process. */
export interface Store {
  db: Database;
  client: Client;
  path: string;
  /** Runs `work` in one write transaction; a throw rolls every change back. */
  write<T>(work: (tx: Transaction) => Promise<T>): Promise<T>;
  close(): void;
}

const log = logger("store");

/** The data directory cannot be created or used. */
export class DataDirError extends Error {
  override name = "DataDirError";
}

/** Creates the data directory (0700) if needed and returns its absolute path. */
export function ensureDataDir(dataDir: string): string {
  const path = resolve(dataDir);
  try {
    mkdirSync(path, { recursive: true, mode: 0o700 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === "EEXIST" || code === "ENOTDIR" ? "it exists and is not a directory" : `cannot create it (${code ?? (error as Error).message})`;
    throw new DataDirError(`data directory ${path}: ${reason}`);
  }
  if (!statSync(path).isDirectory()) throw new DataDirError(`data directory ${path}: it exists and is not a directory`);
  return path;
}

/** Creates `path` with mode 0600 if it is missing, and narrows a wider mode on an existing file. */
export function ensurePrivateFile(path: string): void {
  closeSync(openSync(path, "a", 0o600));
  const mode = statSync(path).mode & 0o777;
  if (mode !== 0o600) {
    chmodSync(path, 0o600);
    log.warn({ path, mode: mode.toString(8) }, "narrowed file mode to 0600");
  }
}

/** Opens (creating if needed) `jams.db` in `dataDir` and migrates it. */
export async function openStore(dataDir: string): Promise<Store> {
  const path = join(ensureDataDir(dataDir), "jams.db");
  ensurePrivateFile(path);
  const client = createClient({ url: `file:${path}` });
  await client.execute("PRAGMA journal_mode = WAL");
  await client.execute("PRAGMA busy_timeout = 5000");
  await client.execute("PRAGMA foreign_keys = ON");
  await migrate(client);
  const db = drizzle(client, { schema });
  return { db, client, path, write: serialised(db), close: () => client.close() };
}

function serialised(db: Database): Store["write"] {
  let tail: Promise<unknown> = Promise.resolve();
  return (work) => {
    const run = tail.then(() => db.transaction(work));
    tail = run.catch(() => undefined);
    return run;
  };
}

async function migrate(client: Client): Promise<void> {
  await client.execute(
    "CREATE TABLE IF NOT EXISTS schema_migrations (tag TEXT PRIMARY KEY, applied_at INTEGER NOT NULL)",
  );
  const applied = new Set(
    (await client.execute("SELECT tag FROM schema_migrations")).rows.map((row) => String(row.tag)),
  );
  for (const migration of migrations) {
    if (applied.has(migration.tag)) continue;
    await client.batch(
      [
        ...migration.statements,
        {
          sql: "INSERT INTO schema_migrations (tag, applied_at) VALUES (?, ?)",
          args: [migration.tag, Date.now()],
        },
      ],
      "write",
    );
    log.info({ migration: migration.tag }, "applied database migration");
  }
}
