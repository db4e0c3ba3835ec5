/**
 * @module The directory in use for a store: built from the stored settings on first use and
 * rebuilt when they change, so a settings update takes effect without a restart.
 */
import { readAuthType } from "../install/setup.ts";
import type { Store } from "../store/database.ts";
import { Directory } from "./directory.ts";
import { connectionParameters, readDirectorySettings } from "./settings.ts";

interface Cached {
  key: string;
  directory: Directory;
}

const cache = new WeakMap<Store, Cached>();

/** Returns the configured directory, or undefined when the user source is LOCAL. */
export async function directoryFor(store: Store): Promise<Directory | undefined> {
  const type = await readAuthType(store.db);
  if (type !== "LDAP" && type !== "AD") return undefined;
  const settings = await readDirectorySettings(store.db);
  if (!settings) return undefined;
  const key = JSON.stringify(settings);
  const cached = cache.get(store);
  if (cached?.key === key) return cached.directory;
  if (cached) void cached.directory.close();
  const directory = new Directory(connectionParameters(settings));
  cache.set(store, { key, directory });
  return directory;
}

/** Closes the pooled connections of a store's directory, if one was opened. */
export async function closeDirectory(store: Store): Promise<void> {
  const cached = cache.get(store);
  cache.delete(store);
  await cached?.directory.close();
}
