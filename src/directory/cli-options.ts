/**
 * @module The `jams setup` flags of the directory user sources. Each flag sets the directory
 * setting of the same name. The bind password comes from a file or from JAMS_LDAP_BIND_PASSWORD
 * or JAMS_AD_BIND_PASSWORD, never from the command line.
 */
import { readFileSync } from "node:fs";
import { readSecretFile } from "../cli/read-secret.ts";
import { UsageError } from "../cli/usage-error.ts";

/** parseArgs options for both directory kinds. */
export const directoryOptions = {
  "ldap-url": { type: "string" },
  "ldap-port": { type: "string" },
  "ldap-start-tls": { type: "boolean" },
  "ldap-bind-dn": { type: "string" },
  "ldap-bind-password-file": { type: "string" },
  "ldap-base-dn": { type: "string" },
  "ldap-login-attribute": { type: "string" },
  "ldap-user-filter": { type: "string" },
  "ldap-group-base-dn": { type: "string" },
  "ldap-ca-file": { type: "string" },
  "ldap-unsafe-skip-certificate-check": { type: "boolean" },
  "ad-host": { type: "string" },
  "ad-port": { type: "string" },
  "ad-ssl": { type: "boolean" },
  "ad-start-tls": { type: "boolean" },
  "ad-domain": { type: "string" },
  "ad-base-dn": { type: "string" },
  "ad-bind-user": { type: "string" },
  "ad-bind-password-file": { type: "string" },
  "ad-user-filter": { type: "string" },
  "ad-ca-file": { type: "string" },
  "ad-unsafe-skip-certificate-check": { type: "boolean" },
} as const;

type Values = Record<string, string | boolean | undefined>;

/**
 * Builds the directory settings for `--auth ldap` or `--auth ad` from the flags; validation of
 * the values themselves happens in `parseDirectorySettings`. Flags of the other kind are a usage error.
 */
export function readDirectoryFlags(kind: "ldap" | "ad", values: Values, env: Record<string, string | undefined>): Record<string, unknown> {
  const other = kind === "ldap" ? "ad-" : "ldap-";
  const stray = Object.keys(directoryOptions).find((name) => name.startsWith(other) && values[name] !== undefined);
  if (stray) throw new UsageError(`--${stray} does not apply to --auth ${kind}`);
  const flag = (name: string) => values[`${kind}-${name}`];
  const settings: Record<string, unknown> = {};
  const copy = (name: string, field: string) => {
    if (flag(name) !== undefined) settings[field] = flag(name);
  };
  if (kind === "ldap") {
    copy("url", "url");
    copy("start-tls", "startTls");
    copy("bind-dn", "bindDn");
    copy("base-dn", "baseDn");
    copy("login-attribute", "loginAttribute");
    copy("group-base-dn", "groupBaseDn");
  } else {
    copy("host", "host");
    copy("ssl", "ssl");
    copy("start-tls", "startTls");
    copy("domain", "domain");
    copy("base-dn", "baseDn");
    copy("bind-user", "bindUser");
    // --ad-start-tls alone means StartTLS on port 389, not LDAPS.
    if (flag("start-tls") === true && flag("ssl") === undefined) settings.ssl = false;
  }
  copy("user-filter", "userFilter");
  copy("unsafe-skip-certificate-check", "unsafeSkipCertificateCheck");
  const port = flag("port");
  if (port !== undefined) {
    if (!/^[0-9]{1,5}$/.test(String(port))) throw new UsageError(`--${kind}-port must be a port number, not ${String(port)}`);
    settings.port = Number(port);
  }
  const caFile = flag("ca-file");
  if (typeof caFile === "string") {
    try {
      settings.caCertificates = readFileSync(caFile, "utf8");
    } catch (error) {
      throw new UsageError(`--${kind}-ca-file ${caFile}: cannot read the file (${(error as NodeJS.ErrnoException).code ?? "error"})`);
    }
  }
  const passwordFile = flag("bind-password-file");
  const envName = kind === "ldap" ? "JAMS_LDAP_BIND_PASSWORD" : "JAMS_AD_BIND_PASSWORD";
  if (typeof passwordFile === "string") {
    settings.bindPassword = readSecretFile(passwordFile, `--${kind}-bind-password-file`);
  } else if (env[envName]) {
    settings.bindPassword = env[envName];
  } else {
    throw new UsageError(`--auth ${kind} needs the lookup account's password: --${kind}-bind-password-file FILE or ${envName}`);
  }
  return settings;
}
