/**
 * @module Settings of the directory user sources (LDAP and Active Directory): validation, the
 * connection parameters derived from them, redaction, and storage as JSON in the `settings`
 * table. The bind password is stored there too (the database file is mode 0600) and is never
 * returned by an API: `redactSettings` replaces it with `bindPasswordSet`.
 */
import { X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import { FilterParser } from "ldapts";
import { z } from "zod";
import { badRequest } from "../api/errors.ts";
import type { Database, Transaction } from "../store/database.ts";
import { readSetting, writeSetting } from "../store/settings-repo.ts";

/** The settings key of the directory configuration. */
export const directorySettingsKey = "directory.settings";

/** Profile fields read from the directory, each mapped to one attribute name. */
export const profileFields = ["displayName", "firstName", "lastName", "email", "phoneNumber", "photo", "groups"] as const;
export type ProfileField = (typeof profileFields)[number];
export type AttributeMap = Record<ProfileField, string>;

/** Attribute defaults for OpenLDAP's inetOrgPerson schema. */
export const ldapAttributeDefaults: AttributeMap = {
  displayName: "displayName",
  firstName: "givenName",
  lastName: "sn",
  email: "mail",
  phoneNumber: "telephoneNumber",
  photo: "jpegPhoto",
  groups: "memberOf",
};

/** Attribute defaults for Active Directory's user class. */
export const adAttributeDefaults: AttributeMap = { ...ldapAttributeDefaults, photo: "thumbnailPhoto" };

const defaultTimeoutMs = 5_000;

// An attribute description: a name such as `uid` or `jpegPhoto`, or an OID such as 0.9.2342.19200300.100.1.1.
const attributeName = z
  .string()
  .regex(/^([A-Za-z][A-Za-z0-9-]{0,63}|[0-9]+(\.[0-9]+)+)$/, "must be an LDAP attribute name such as uid or mail");

const distinguishedName = z
  .string()
  .trim()
  .min(1, "must not be empty")
  .max(1024, "must be at most 1024 characters")
  .refine((value) => !/[\u0000-\u001f]/.test(value), "must not contain control characters");

const userFilter = z
  .string()
  .trim()
  .max(1024, "must be at most 1024 characters")
  .superRefine((value, context) => {
    if (value === "") return;
    if (!value.startsWith("(")) {
      context.addIssue({ code: "custom", message: "must be an LDAP filter in parentheses, such as (objectClass=person)" });
      return;
    }
    try {
      FilterParser.parseString(value);
    } catch (error) {
      context.addIssue({ code: "custom", message: `is not a valid LDAP filter: ${(error as Error).message}` });
    }
  })
  .optional();

const caCertificates = z
  .string()
  .max(256 * 1024, "must be at most 256 KiB of PEM")
  .superRefine((value, context) => {
    const blocks = value.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
    if (blocks.length === 0) {
      context.addIssue({ code: "custom", message: "must contain at least one PEM CERTIFICATE block" });
      return;
    }
    for (const [index, block] of blocks.entries()) {
      try {
        new X509Certificate(block);
      } catch {
        context.addIssue({ code: "custom", message: `certificate ${index + 1} of the bundle cannot be parsed` });
      }
    }
  })
  .optional();

const port = z.number().int().min(1).max(65535).optional();
const bindPassword = z.string().min(1, "must not be empty").max(1024).optional();
const timeoutMs = z.number().int().min(100).max(120_000).default(defaultTimeoutMs);
const attributes = z.strictObject(Object.fromEntries(profileFields.map((field) => [field, attributeName.optional()])));

const ldapSchema = z.strictObject({
  type: z.literal("LDAP"),
  url: z.string().trim(),
  port,
  startTls: z.boolean().default(false),
  bindDn: distinguishedName,
  bindPassword,
  baseDn: distinguishedName,
  loginAttribute: attributeName.default("uid"),
  userFilter,
  groupBaseDn: distinguishedName.optional(),
  caCertificates,
  unsafeSkipCertificateCheck: z.boolean().default(false),
  attributes: attributes.optional(),
  timeoutMs,
});

const adSchema = z.strictObject({
  type: z.literal("AD"),
  host: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9.:-]{1,253}$/, "must be a host name or IP address, without a scheme or port"),
  port,
  ssl: z.boolean().default(true),
  startTls: z.boolean().default(false),
  domain: z
    .string()
    .trim()
    .regex(/^[A-Za-z0-9][A-Za-z0-9.-]{0,14}$/, "must be the legacy (NetBIOS) domain name, such as CORP"),
  bindUser: z.string().trim().min(1, "must not be empty").max(1024),
  bindPassword,
  baseDn: distinguishedName,
  userFilter,
  caCertificates,
  unsafeSkipCertificateCheck: z.boolean().default(false),
  attributes: attributes.optional(),
  timeoutMs,
});

const schema = z.discriminatedUnion("type", [ldapSchema, adSchema]);

export type LdapSettings = z.infer<typeof ldapSchema>;
export type AdSettings = z.infer<typeof adSchema>;
/** The stored directory settings, as the administrator entered them. */
export type DirectorySettings = LdapSettings | AdSettings;

/**
 * Parses directory settings, reporting every invalid field in one 400. The `type` argument
 * ("LDAP" or "AD") fills in a missing `type` member of the input. With `previous`, a missing bind password
 * keeps the stored one, so an administrator can change other fields without re-entering it.
 */
export function parseDirectorySettings(input: unknown, type: "LDAP" | "AD", previous?: DirectorySettings): DirectorySettings {
  const object = typeof input === "object" && input !== null && !Array.isArray(input) ? { type, ...input } : input;
  const result = schema.safeParse(object);
  if (!result.success) throw invalidSettings(result.error.issues.map((issue) => ({ field: issue.path.join(".") || "(body)", message: issue.message })));
  const settings = result.data;
  if (settings.type !== type) throw invalidSettings([{ field: "type", message: `must be "${type}"` }]);
  if (settings.bindPassword === undefined && previous?.type === settings.type) settings.bindPassword = previous.bindPassword;
  const problems = crossFieldProblems(settings);
  if (problems.length > 0) throw invalidSettings(problems);
  return settings;
}

function crossFieldProblems(settings: DirectorySettings): { field: string; message: string }[] {
  const problems: { field: string; message: string }[] = [];
  if (settings.bindPassword === undefined) problems.push({ field: "bindPassword", message: "is required" });
  if (settings.type === "AD") {
    if (settings.ssl && settings.startTls) {
      problems.push({ field: "startTls", message: "cannot be combined with ssl: choose LDAPS (ssl) or StartTLS" });
    }
    return problems;
  }
  let url: URL | undefined;
  try {
    url = new URL(settings.url);
  } catch {
    problems.push({ field: "url", message: "must be a URL such as ldap://ldap.example.org or ldaps://ldap.example.org:636" });
  }
  if (!url) return problems;
  if (url.protocol !== "ldap:" && url.protocol !== "ldaps:") problems.push({ field: "url", message: "must start with ldap:// or ldaps://" });
  if (!url.hostname) problems.push({ field: "url", message: "must name a host" });
  if ((url.pathname !== "" && url.pathname !== "/") || url.search || url.username) {
    problems.push({ field: "url", message: "must contain only the scheme, host and port; put the base DN in baseDn" });
  }
  if (url.port && settings.port !== undefined && Number(url.port) !== settings.port) {
    problems.push({ field: "port", message: `conflicts with port ${url.port} in url` });
  }
  if (url.protocol === "ldaps:" && settings.startTls) {
    problems.push({ field: "startTls", message: "cannot be combined with an ldaps:// url, which is already TLS" });
  }
  return problems;
}

function invalidSettings(fields: { field: string; message: string }[]) {
  const summary = fields.map((f) => `${f.field}: ${f.message}`).join("; ");
  return badRequest("invalid_settings", `invalid directory settings: ${summary}`, { fields });
}

/** Connection parameters common to both directory kinds. */
export interface ConnectionParameters {
  kind: "ldap" | "ad";
  /** `ldap://host:port` or `ldaps://host:port`; IPv6 hosts are bracketed. */
  url: string;
  host: string;
  port: number;
  /** "ldaps" (TLS from the first byte), "starttls" (upgrade after connecting) or "none". */
  transport: "ldaps" | "starttls" | "none";
  caCertificates?: string;
  unsafeSkipCertificateCheck: boolean;
  bindDn: string;
  bindPassword: string;
  baseDn: string;
  loginAttribute: string;
  /** The filter every user entry must match, in parentheses. */
  userFilter: string;
  groupBaseDn?: string;
  attributes: AttributeMap;
  timeoutMs: number;
  /** The legacy domain name of an Active Directory, upper case. */
  domain?: string;
}

/** Returns the transport: LDAPS when `secure`, else StartTLS when asked for, else none. */
function transportOf(secure: boolean, startTls: boolean | undefined): "ldaps" | "starttls" | "none" {
  if (secure) return "ldaps";
  return startTls ? "starttls" : "none";
}

/** Returns the explicit port, else the one in the URL, else the default for the transport. */
function portOf(explicit: number | undefined, inUrl: string, secure: boolean): number {
  if (explicit !== undefined) return explicit;
  if (inUrl) return Number(inUrl);
  return secure ? 636 : 389;
}

/** Derives the connection parameters from validated settings. */
export function connectionParameters(settings: DirectorySettings): ConnectionParameters {
  if (settings.type === "AD") {
    const transport = transportOf(settings.ssl, settings.startTls);
    const port = portOf(settings.port, "", settings.ssl);
    const host = settings.host;
    return {
      kind: "ad",
      url: `${settings.ssl ? "ldaps" : "ldap"}://${isIP(host) === 6 ? `[${host}]` : host}:${port}`,
      host,
      port,
      transport,
      caCertificates: settings.caCertificates,
      unsafeSkipCertificateCheck: settings.unsafeSkipCertificateCheck,
      bindDn: settings.bindUser,
      bindPassword: settings.bindPassword ?? "",
      baseDn: settings.baseDn,
      loginAttribute: "sAMAccountName",
      userFilter: settings.userFilter || "(&(objectCategory=person)(objectClass=user))",
      attributes: { ...adAttributeDefaults, ...definedOnly(settings.attributes) },
      timeoutMs: settings.timeoutMs,
      domain: settings.domain.toUpperCase(),
    };
  }
  const url = new URL(settings.url);
  const secure = url.protocol === "ldaps:";
  const port = portOf(settings.port, url.port, secure);
  const host = url.hostname.replace(/^\[|\]$/g, "");
  return {
    kind: "ldap",
    url: `${url.protocol}//${url.hostname}:${port}`,
    host,
    port,
    transport: transportOf(secure, settings.startTls),
    caCertificates: settings.caCertificates,
    unsafeSkipCertificateCheck: settings.unsafeSkipCertificateCheck,
    bindDn: settings.bindDn,
    bindPassword: settings.bindPassword ?? "",
    baseDn: settings.baseDn,
    loginAttribute: settings.loginAttribute,
    userFilter: settings.userFilter || "(objectClass=inetOrgPerson)",
    groupBaseDn: settings.groupBaseDn,
    attributes: { ...ldapAttributeDefaults, ...definedOnly(settings.attributes) },
    timeoutMs: settings.timeoutMs,
  };
}

function definedOnly(map: Partial<Record<string, string | undefined>> | undefined): Partial<AttributeMap> {
  return Object.fromEntries(Object.entries(map ?? {}).filter(([, value]) => value !== undefined)) as Partial<AttributeMap>;
}

/** Returns the settings without the bind password, for API replies and logs. */
export function redactSettings(settings: DirectorySettings): Record<string, unknown> {
  const { bindPassword, ...rest } = settings;
  return { ...rest, bindPasswordSet: Boolean(bindPassword) };
}

/** Reads the stored directory settings, or undefined when the user source is LOCAL. */
export async function readDirectorySettings(db: Database | Transaction): Promise<DirectorySettings | undefined> {
  return readSetting<DirectorySettings>(db, directorySettingsKey);
}

/** Stores the directory settings. */
export async function writeDirectorySettings(db: Database | Transaction, settings: DirectorySettings): Promise<void> {
  await writeSetting(db, directorySettingsKey, settings);
}
