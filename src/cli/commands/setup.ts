/** @module `jams setup`: the whole first-run setup from the command line, in one transaction. */
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { AppError } from "../../api/errors.ts";
import { generateCa, importCa, type CaMaterial } from "../../authority/ca.ts";
import { loadServeConfig } from "../../config/serve-config.ts";
import {
  createFirstAdmin,
  parseInstallSettings,
  storeAuthType,
  storeCa,
  storeSettingsAndFinish,
} from "../../install/setup.ts";
import type { CaSubject } from "../../pki/certificates.ts";
import { openStore } from "../../store/database.ts";
import { directoryOptions, readDirectoryFlags } from "../../directory/cli-options.ts";
import { checkUsername } from "../../users/users.ts";
import { readSecretFile } from "../read-secret.ts";
import { UsageError } from "../usage-error.ts";

const options = {
  "data-dir": { type: "string" },
  config: { type: "string" },
  "admin-user": { type: "string" },
  "admin-password-file": { type: "string" },
  "ca-generate": { type: "boolean" },
  "ca-subject": { type: "string" },
  "ca-cert": { type: "string" },
  "ca-key": { type: "string" },
  "ca-key-passphrase-file": { type: "string" },
  auth: { type: "string" },
  "server-domain": { type: "string" },
  "device-lifetime": { type: "string" },
  "user-lifetime": { type: "string" },
  "crl-lifetime": { type: "string" },
  "public-name-server": { type: "boolean" },
  ...directoryOptions,
} as const;

export async function runSetup(args: string[], env: Record<string, string | undefined>): Promise<number> {
  const { values, positionals } = parseArgs({ args, options, allowPositionals: true });
  if (positionals.length > 0) throw new UsageError(`setup takes no positional argument: ${positionals[0]}`);
  if (!values["admin-user"]) throw new UsageError("setup needs --admin-user NAME");
  if (!values["admin-password-file"]) throw new UsageError("setup needs --admin-password-file FILE");
  const auth = (values.auth ?? "").toLowerCase();
  if (auth !== "local" && auth !== "ldap" && auth !== "ad") throw new UsageError("setup needs --auth local, --auth ldap or --auth ad");
  const directory = auth === "local" ? undefined : readDirectoryFlags(auth, values, env);
  if (!directory && Object.keys(directoryOptions).some((name) => (values as Record<string, unknown>)[name] !== undefined)) {
    throw new UsageError("--ldap-* and --ad-* flags need --auth ldap or --auth ad");
  }
  checkUsername(values["admin-user"]);
  const password = readSecretFile(values["admin-password-file"], "--admin-password-file");
  const settings = parseInstallSettings(
    dropUndefined({
      serverDomain: values["server-domain"],
      deviceLifetime: values["device-lifetime"],
      userLifetime: values["user-lifetime"],
      crlLifetime: values["crl-lifetime"],
      publicNameServer: values["public-name-server"],
    }),
  );
  const ca = await readCaOptions(values);
  const config = loadServeConfig({ flags: { dataDir: values["data-dir"] }, configFile: values.config, env });
  const store = await openStore(config.dataDir);
  try {
    await store.write(async (tx) => {
      await createFirstAdmin(store, tx, values["admin-user"], password);
      await storeCa(tx, ca);
      await storeAuthType(tx, auth.toUpperCase(), directory);
      await storeSettingsAndFinish(tx, settings);
    });
    console.log(`setup complete in ${store.path}; start the server with: jams serve --data-dir ${config.dataDir}`);
    return 0;
  } catch (error) {
    if (error instanceof AppError) {
      console.error(`jams setup: ${error.message}`);
      return 1;
    }
    throw error;
  } finally {
    store.close();
  }
}

async function readCaOptions(values: Record<string, string | boolean | undefined>): Promise<CaMaterial> {
  const generate = values["ca-generate"] === true;
  const certFile = values["ca-cert"] as string | undefined;
  const keyFile = values["ca-key"] as string | undefined;
  if (generate === Boolean(certFile || keyFile)) {
    throw new UsageError("setup needs either --ca-generate or both --ca-cert FILE and --ca-key FILE");
  }
  if (generate) return generateCa(parseSubject((values["ca-subject"] as string | undefined) ?? "CN=Jami Organization CA"));
  if (!certFile || !keyFile) throw new UsageError("--ca-cert and --ca-key go together");
  const passphraseFile = values["ca-key-passphrase-file"] as string | undefined;
  const passphrase = passphraseFile ? readSecretFile(passphraseFile, "--ca-key-passphrase-file") : undefined;
  try {
    return importCa(readText(certFile, "--ca-cert"), readText(keyFile, "--ca-key"), passphrase);
  } catch (error) {
    if (error instanceof AppError) {
      const flag = (error.details as { field?: string })?.field === "privateKey" ? `--ca-key ${keyFile}` : `--ca-cert ${certFile}`;
      const reason = (error.details as { reason?: string })?.reason ?? error.message;
      throw new UsageError(`${flag}: ${reason}`);
    }
    throw error;
  }
}

function readText(path: string, flag: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (error) {
    throw new UsageError(`${flag} ${path}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? "error"})`);
  }
}

const subjectKeys: Record<string, keyof CaSubject> = {
  CN: "commonName",
  O: "organization",
  OU: "organizationalUnit",
  L: "locality",
  ST: "state",
  C: "country",
};

/** Parses `CN=Example CA,O=Example` into subject fields. Commas inside values are not supported. */
export function parseSubject(text: string): CaSubject {
  const subject: Partial<CaSubject> = {};
  for (const part of text.split(",")) {
    const [key, ...rest] = part.split("=");
    const field = subjectKeys[(key ?? "").trim().toUpperCase()];
    const value = rest.join("=").trim();
    if (!field || !value) throw new UsageError(`--ca-subject: cannot read "${part.trim()}"; use KEY=value with CN, O, OU, L, ST or C`);
    subject[field] = value;
  }
  if (!subject.commonName) throw new UsageError("--ca-subject needs CN=...");
  return subject as CaSubject;
}

function dropUndefined(values: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.entries(values).filter(([, value]) => value !== undefined));
}
