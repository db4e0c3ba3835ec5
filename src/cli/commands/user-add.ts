/** @module `jams user add NAME --password-file FILE`: creates a local user. */
import { parseArgs } from "node:util";
import { AppError } from "../../api/errors.ts";
import { loadServeConfig } from "../../config/serve-config.ts";
import { openStore } from "../../store/database.ts";
import { checkUsername, createLocalUser } from "../../users/users.ts";
import { readSecretFile } from "../read-secret.ts";
import { UsageError } from "../usage-error.ts";

export async function runUserAdd(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      "password-file": { type: "string" },
      "data-dir": { type: "string" },
      config: { type: "string" },
      admin: { type: "boolean" },
    },
  });
  if (positionals.length !== 1) throw new UsageError("user add takes exactly one NAME");
  if (!values["password-file"]) throw new UsageError("user add needs --password-file FILE");
  checkUsername(positionals[0]);
  const password = readSecretFile(values["password-file"], "--password-file");
  const config = loadServeConfig({ flags: { dataDir: values["data-dir"] }, configFile: values.config, env });
  const store = await openStore(config.dataDir);
  try {
    const role = values.admin ? "admin" : "user";
    const user = await createLocalUser(store, { username: positionals[0], password, role });
    console.log(`created ${role} ${user.username}`);
    return 0;
  } catch (error) {
    if (error instanceof AppError) {
      console.error(`jams user add: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    store.close();
  }
}
