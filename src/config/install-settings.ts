/**
 * @module Settings chosen at installation (CLI `setup` or the setup wizard) and kept in the
 * database: the public base URL, certificate lifetimes and the user source.
 */
import { z } from "zod";
import { parseDuration } from "./duration.ts";

const day = 86_400_000;
const minute = 60_000;

/** Schema of a lifetime given as milliseconds (JAMS's unit) or as a duration such as `90d`. */
const lifetime = z.union([z.number().int(), z.string()]).transform((value, context) => {
  const ms = typeof value === "number" ? value : parseDuration(value);
  if (ms === undefined || ms < minute || ms > 100 * 365 * day) {
    context.addIssue({ code: "custom", message: "must be a duration between 1m and 100y, such as 90d or 12h, or milliseconds" });
    return z.NEVER;
  }
  return ms;
});

/** The public base URL clients use, without a trailing slash: `https://jams.example.org[/prefix]`. */
const serverDomain = z
  .string()
  .trim()
  .transform((value, context) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      context.addIssue({ code: "custom", message: "must be an absolute URL such as https://jams.example.org" });
      return z.NEVER;
    }
    if (url.protocol !== "https:" || url.search || url.hash || url.username || url.password) {
      context.addIssue({ code: "custom", message: "must be an https:// URL with no query, fragment or credentials" });
      return z.NEVER;
    }
    return url.toString().replace(/\/+$/, "");
  });

export const installSettingsSchema = z
  .object({
    serverDomain: serverDomain.optional(),
    deviceLifetime: lifetime.default(365 * day),
    userLifetime: lifetime.default(2 * 365 * day),
    crlLifetime: lifetime.default(day),
    publicNameServer: z.boolean().default(false),
  })
  .strict();

/** Validated installation settings; lifetimes are in milliseconds. */
export type InstallSettings = z.output<typeof installSettingsSchema>;

/** The name server Jami clients use when the admin chose the public one. */
export const publicNameServerUrl = "https://ns.jami.net";

/** Settings key under which the installation settings are stored. */
export const installSettingsKey = "install.settings";
