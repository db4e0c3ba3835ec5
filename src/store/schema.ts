/**
 * @module Database schema (drizzle-orm over libSQL).
 *
 * Private keys are stored as PKCS#8 DER blobs; the database file is created with mode 0600.
 * Times are integer milliseconds since the epoch.
 */
import { sql } from "drizzle-orm";
import { blob, index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

/** Key-value store for installation settings, the setup step and server secrets (JSON values). */
export const settings = sqliteTable("settings", {
  key: text("key").primaryKey(),
  value: text("value").notNull(),
});

/** The organisation CA. One row, id 1. */
export const authority = sqliteTable("authority", {
  id: integer("id").primaryKey(),
  certificatePem: text("certificate_pem").notNull(),
  privateKeyDer: blob("private_key_der", { mode: "buffer" }).notNull(),
  keyAlgorithm: text("key_algorithm", { enum: ["rsa", "ec"] }).notNull(),
  createdAt: integer("created_at").notNull(),
});

/** People who log in: Jami users and administrators. */
export const users = sqliteTable(
  "users",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    username: text("username").notNull(),
    passwordHash: text("password_hash"),
    source: text("source", { enum: ["local", "ldap", "ad"] }).notNull().default("local"),
    role: text("role", { enum: ["user", "admin"] }).notNull().default("user"),
    disabled: integer("disabled", { mode: "boolean" }).notNull().default(false),
    /** Set when an admin revoked the user: the account certificate and every device are revoked. */
    revokedAt: integer("revoked_at"),
    displayName: text("display_name").notNull().default(""),
    createdAt: integer("created_at").notNull(),
  },
  (table) => [uniqueIndex("users_username_lower").on(sql`lower(${table.username})`)],
);

/** A user's Jami identity: the account key and certificate (itself a CA for the devices). */
export const accounts = sqliteTable("accounts", {
  userId: integer("user_id")
    .primaryKey()
    .references(() => users.id),
  accountId: text("account_id").notNull().unique(),
  certificatePem: text("certificate_pem").notNull(),
  privateKeyDer: blob("private_key_der", { mode: "buffer" }).notNull(),
  serial: text("serial").notNull(),
  notAfter: integer("not_after").notNull(),
  createdAt: integer("created_at").notNull(),
});

/** Enrolled devices, keyed by the SHA-256 of the device public key (the client's device id). */
export const devices = sqliteTable(
  "devices",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    userId: integer("user_id")
      .notNull()
      .references(() => users.id),
    deviceId: text("device_id").notNull().unique(),
    shortId: text("short_id").notNull(),
    name: text("name").notNull(),
    certificatePem: text("certificate_pem").notNull(),
    serial: text("serial").notNull(),
    notAfter: integer("not_after").notNull(),
    enrolledAt: integer("enrolled_at").notNull(),
    renewedAt: integer("renewed_at").notNull(),
    revokedAt: integer("revoked_at"),
    revocationReason: text("revocation_reason"),
  },
  (table) => [index("devices_user").on(table.userId)],
);

/** Every certificate this server issued, for CRLs, OCSP and audits. */
export const certificates = sqliteTable(
  "certificates",
  {
    serial: text("serial").primaryKey(),
    kind: text("kind", { enum: ["ca", "account", "device"] }).notNull(),
    subject: text("subject").notNull(),
    userId: integer("user_id").references(() => users.id),
    deviceId: text("device_id"),
    issuedAt: integer("issued_at").notNull(),
    notAfter: integer("not_after").notNull(),
    revokedAt: integer("revoked_at"),
    revocationReason: text("revocation_reason"),
  },
  (table) => [index("certificates_user").on(table.userId)],
);

/** Contacts, conversations and conversation requests that a user's devices sync through the server. */
export const syncItems = sqliteTable(
  "sync_items",
  {
    userId: integer("user_id")
      .notNull()
      .references(() => users.id),
    kind: text("kind", { enum: ["contact", "conversation", "conversationRequest"] }).notNull(),
    key: text("key").notNull(),
    payload: text("payload").notNull(),
    updatedAt: integer("updated_at").notNull(),
  },
  (table) => [primaryKey({ columns: [table.userId, table.kind, table.key] })],
);

export type UserRow = typeof users.$inferSelect;
export type AccountRow = typeof accounts.$inferSelect;
export type DeviceRow = typeof devices.$inferSelect;
export type AuthorityRow = typeof authority.$inferSelect;
