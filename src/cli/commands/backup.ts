/**
 * @module `jams backup` and `jams restore`: a consistent snapshot of a data directory, taken
 * while the server runs, and its restoration into an empty data directory.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { loadServeConfig } from "../../config/serve-config.ts";
import {
  BackupError,
  decryptBackup,
  encryptBackup,
  hasDatabase,
  isEncryptedBackup,
  isSqliteFile,
  snapshotDatabase,
  writePrivateFile,
} from "../../store/backup.ts";
import { ensureDataDir, openStore } from "../../store/database.ts";
import { readSecretFile } from "../read-secret.ts";
import { UsageError } from "../usage-error.ts";

/** Runs `jams backup --out FILE [--passphrase-file FILE] [--data-dir DIR]`. */
export async function runBackup(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { out: { type: "string" }, "passphrase-file": { type: "string" }, "data-dir": { type: "string" }, config: { type: "string" } },
  });
  if (!values.out) throw new UsageError("backup needs --out FILE");
  const passphrase = values["passphrase-file"] ? readSecretFile(values["passphrase-file"], "--passphrase-file") : undefined;
  const config = loadServeConfig({ flags: { dataDir: values["data-dir"] }, configFile: values.config, env });
  if (!hasDatabase(config.dataDir)) throw new UsageError(`--data-dir ${config.dataDir}: no jams.db to back up`);
  const store = await openStore(config.dataDir);
  try {
    const snapshot = await snapshotDatabase(store);
    const file = passphrase ? await encryptBackup(snapshot, passphrase) : snapshot;
    try {
      writePrivateFile(values.out, file);
    } catch (error) {
      throw new UsageError(`--out ${values.out}: cannot create the file (${(error as NodeJS.ErrnoException).code ?? "error"}); it must not exist`);
    }
    const protection = passphrase ? "encrypted with the passphrase" : "NOT encrypted: it holds the CA and account private keys, keep it private";
    console.log(`wrote ${values.out} (${file.length} bytes, mode 0600, ${protection})`);
    return 0;
  } finally {
    store.close();
  }
}

/** Runs `jams restore --in FILE --data-dir DIR [--passphrase-file FILE]`. */
export async function runRestore(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values } = parseArgs({
    args,
    options: { in: { type: "string" }, "passphrase-file": { type: "string" }, "data-dir": { type: "string" }, config: { type: "string" } },
  });
  if (!values.in) throw new UsageError("restore needs --in FILE");
  const config = loadServeConfig({ flags: { dataDir: values["data-dir"] }, configFile: values.config, env });
  if (hasDatabase(config.dataDir)) {
    throw new UsageError(`--data-dir ${config.dataDir} already contains a jams.db; restore into an empty data directory`);
  }
  let file: Buffer;
  try {
    file = readFileSync(values.in);
  } catch (error) {
    throw new UsageError(`--in ${values.in}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
  const snapshot = await readSnapshot(file, values.in, values["passphrase-file"]);
  const path = join(ensureDataDir(config.dataDir), "jams.db");
  writePrivateFile(path, snapshot);
  // Opening runs the migrations, so a backup from an older version comes up to date.
  const store = await openStore(config.dataDir);
  const check = await store.client.execute("PRAGMA integrity_check");
  store.close();
  if (String(check.rows[0]?.[0]) !== "ok") throw new BackupError(`the restored database fails its integrity check: ${String(check.rows[0]?.[0])}`);
  console.log(`restored ${values.in} into ${path}; start the server with: jams serve --data-dir ${config.dataDir}`);
  return 0;
}

async function readSnapshot(file: Buffer, name: string, passphraseFile: string | undefined): Promise<Buffer> {
  if (isEncryptedBackup(file)) {
    if (!passphraseFile) throw new UsageError(`--in ${name} is encrypted: pass its passphrase with --passphrase-file`);
    return decryptBackup(file, readSecretFile(passphraseFile, "--passphrase-file"));
  }
  if (!isSqliteFile(file)) throw new BackupError(`--in ${name}: not a jams backup (neither encrypted nor an SQLite file)`);
  return file;
}
