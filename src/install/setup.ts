/**
 * @module First-run setup, shared by the CLI `setup` command and the HTTP setup wizard.
 *
 * Steps run in order: create the first administrator, store the CA, choose the user source,
 * save the server settings. Each step persists fully or not at all; the last one marks the
 * server installed, after which setup is closed.
 */
import { AppError, badRequest, conflict } from "../api/errors.ts";
import { saveCa, type CaMaterial } from "../authority/ca.ts";
import {
  installSettingsKey,
  installSettingsSchema,
  type InstallSettings,
} from "../config/install-settings.ts";
import { parseDirectorySettings, writeDirectorySettings } from "../directory/settings.ts";
import type { Database, Transaction } from "../store/database.ts";
import type { Store } from "../store/database.ts";
import { readSetting, writeSetting } from "../store/settings-repo.ts";
import type { UserRow } from "../store/schema.ts";
import { createLocalUser } from "../users/users.ts";

/** The next step to run; `done` once installed. */
export type SetupStep = "start" | "ca" | "auth" | "settings" | "done";

const order: SetupStep[] = ["start", "ca", "auth", "settings", "done"];
const stepKey = "setup.step";
const authTypeKey = "install.authType";

/** User sources: the embedded database, an LDAP directory or Active Directory. */
export type AuthType = "LOCAL" | "LDAP" | "AD";

const authTypes: AuthType[] = ["LOCAL", "LDAP", "AD"];

/** Reads the chosen user source; LOCAL before setup chose one. */
export async function readAuthType(db: Database | Transaction): Promise<AuthType> {
  return (await readSetting<AuthType>(db, authTypeKey)) ?? "LOCAL";
}

/** Reads the next setup step. */
export async function readSetupStep(db: Database | Transaction): Promise<SetupStep> {
  return (await readSetting<SetupStep>(db, stepKey)) ?? "start";
}

/** Tells whether setup is complete. */
export async function isInstalled(db: Database | Transaction): Promise<boolean> {
  return (await readSetupStep(db)) === "done";
}

/** Reads the saved installation settings, or undefined before setup saved them. */
export async function readInstallSettings(db: Database | Transaction): Promise<InstallSettings | undefined> {
  return readSetting<InstallSettings>(db, installSettingsKey);
}

async function requireStep(tx: Transaction, allowed: SetupStep[], action: string): Promise<SetupStep> {
  const step = await readSetupStep(tx);
  if (step === "done") {
    throw new AppError(404, "already_installed", undefined, { details: { installed: true } });
  }
  if (!allowed.includes(step)) {
    throw conflict("step_out_of_order", `cannot ${action} now; the next setup step is "${step}"`, { nextStep: step });
  }
  return step;
}

async function advance(tx: Transaction, current: SetupStep, next: SetupStep): Promise<void> {
  if (order.indexOf(next) > order.indexOf(current)) await writeSetting(tx, stepKey, next);
}

/** Step 1: creates the first administrator. */
export async function createFirstAdmin(store: Store, tx: Transaction, username: unknown, password: unknown): Promise<UserRow> {
  const step = await readSetupStep(tx);
  if (step !== "start") {
    // Another administrator won the race to start setup, or setup is complete.
    if (step === "done") throw new AppError(404, "already_installed", undefined, { details: { installed: true } });
    throw conflict("setup_in_progress", "setup was already started; sign in with the administrator created then");
  }
  const admin = await createLocalUser(store, { username, password, role: "admin" }, tx);
  await advance(tx, step, "ca");
  return admin;
}

/** Step 2: stores the organisation CA (may be repeated until setup finishes). */
export async function storeCa(tx: Transaction, material: CaMaterial): Promise<void> {
  const step = await requireStep(tx, ["ca", "auth", "settings"], "store the CA");
  await saveCa(tx, material);
  await advance(tx, step, "auth");
}

/**
 * Step 3: chooses the user source (may be repeated until setup finishes). LDAP and AD need
 * `directory`, the directory settings, which are validated and stored with the choice.
 */
export async function storeAuthType(tx: Transaction, type: unknown, directory?: unknown): Promise<AuthType> {
  const step = await requireStep(tx, ["auth", "settings"], "choose the user source");
  const chosen = typeof type === "string" ? authTypes.find((name) => name === type.toUpperCase()) : undefined;
  if (!chosen) {
    const shown = typeof type === "string" ? type : JSON.stringify(type);
    throw badRequest("unsupported_auth_type", `user source ${shown} is not supported; use "LOCAL", "LDAP" or "AD"`, {
      allowed: authTypes,
    });
  }
  if (chosen !== "LOCAL") {
    if (directory === undefined) {
      throw badRequest("invalid_settings", `user source ${chosen} needs its directory settings in "settings"`);
    }
    await writeDirectorySettings(tx, parseDirectorySettings(directory, chosen));
  }
  await writeSetting(tx, authTypeKey, chosen);
  await advance(tx, step, "settings");
  return chosen;
}

/** Parses settings input, reporting every invalid field in one 400. */
export function parseInstallSettings(input: unknown): InstallSettings {
  const result = installSettingsSchema.safeParse(input ?? {});
  if (!result.success) {
    const fields = result.error.issues.map((issue) => ({ field: issue.path.join(".") || "(body)", message: issue.message }));
    const summary = fields.map((f) => `${f.field}: ${f.message}`).join("; ");
    throw badRequest("invalid_settings", `invalid settings: ${summary}`, { fields });
  }
  return result.data;
}

/** Step 4: saves the server settings and completes setup. */
export async function storeSettingsAndFinish(tx: Transaction, settings: InstallSettings): Promise<void> {
  const step = await requireStep(tx, ["settings"], "save the server settings");
  await writeSetting(tx, installSettingsKey, settings);
  await advance(tx, step, "done");
}
