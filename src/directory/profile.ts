/**
 * @module Reading a user's profile out of a directory entry with the configured attribute map.
 */
import type { Entry } from "ldapts";
import { checkUsername } from "../users/users.ts";
import type { ConnectionParameters } from "./settings.ts";

/** A directory user as this server uses it. */
export interface DirectoryUser {
  dn: string;
  /** The canonical login name: the login attribute's value (for AD, the sAMAccountName). */
  username: string;
  displayName: string;
  firstName: string;
  lastName: string;
  email: string;
  phoneNumber: string;
  /** The photo as standard base64, or "" when the entry has none. */
  photo: string;
  /** Group names: the first RDN value of each `memberOf` DN, or of each group found by group search. */
  groups: string[];
  /** True for an Active Directory account with the ACCOUNTDISABLE bit of userAccountControl. */
  disabled: boolean;
}

/** An entry that cannot become a user, with the reason for the log. */
export class UnusableEntryError extends Error {
  constructor(
    readonly dn: string,
    reason: string,
  ) {
    super(`directory entry ${dn} is skipped: ${reason}`);
    this.name = "UnusableEntryError";
  }
}

/** userAccountControl bit 0x2 (ACCOUNTDISABLE) marks a disabled Active Directory account. */
const accountDisabledFlag = 0x2;

/** The largest photo passed on to clients, in bytes; a larger one is dropped rather than sent. */
export const maxPhotoBytes = 256 * 1024;

/** Lists the attributes to request for a user entry. */
export function userAttributes(parameters: ConnectionParameters): string[] {
  const names = new Set([parameters.loginAttribute, "cn", ...Object.values(parameters.attributes)]);
  if (parameters.kind === "ad") names.add("userAccountControl");
  return [...names];
}

/** The attributes ldapts must return as bytes. It matches names case-sensitively, so both spellings are listed. */
export function binaryAttributes(parameters: ConnectionParameters): string[] {
  const photo = parameters.attributes.photo;
  return [photo, photo.toLowerCase(), "jpegPhoto", "thumbnailPhoto"];
}

/** Builds a DirectoryUser from an entry; throws UnusableEntryError when a required value is missing or invalid. */
export function readUser(entry: Entry, parameters: ConnectionParameters): DirectoryUser {
  const login = firstText(entry, parameters.loginAttribute);
  if (!login) throw new UnusableEntryError(entry.dn, `it has no ${parameters.loginAttribute} value`);
  let username: string;
  try {
    username = checkUsername(login);
  } catch (error) {
    throw new UnusableEntryError(entry.dn, `its ${parameters.loginAttribute} "${login.slice(0, 80)}" is not a valid username: ${(error as Error).message}`);
  }
  const map = parameters.attributes;
  const firstName = firstText(entry, map.firstName);
  const lastName = firstText(entry, map.lastName);
  const displayName =
    firstText(entry, map.displayName) || [firstName, lastName].filter(Boolean).join(" ") || firstText(entry, "cn") || username;
  const flags = Number(firstText(entry, "userAccountControl") || "0");
  return {
    dn: entry.dn,
    username,
    displayName,
    firstName,
    lastName,
    email: firstText(entry, map.email),
    phoneNumber: firstText(entry, map.phoneNumber),
    photo: readPhoto(entry, map.photo),
    groups: allText(entry, map.groups).map(firstRdnValue),
    disabled: parameters.kind === "ad" && (flags & accountDisabledFlag) !== 0,
  };
}

function values(entry: Entry, attribute: string): (string | Buffer)[] {
  const wanted = attribute.toLowerCase();
  for (const [key, value] of Object.entries(entry)) {
    if (key.toLowerCase() !== wanted || key === "dn") continue;
    return (Array.isArray(value) ? value : [value]) as (string | Buffer)[];
  }
  return [];
}

function firstText(entry: Entry, attribute: string): string {
  const value = values(entry, attribute)[0];
  if (value === undefined) return "";
  return (typeof value === "string" ? value : value.toString("utf8")).normalize("NFC");
}

function allText(entry: Entry, attribute: string): string[] {
  return values(entry, attribute).map((value) => (typeof value === "string" ? value : value.toString("utf8")));
}

function readPhoto(entry: Entry, attribute: string): string {
  const value = values(entry, attribute)[0];
  if (value === undefined || typeof value === "string") return "";
  return value.length > 0 && value.length <= maxPhotoBytes ? value.toString("base64") : "";
}

/** `CN=Sales Team,OU=Groups,DC=corp` → `Sales Team`, with RFC 4514 escapes removed. */
export function firstRdnValue(dn: string): string {
  const match = /^[^=]+=((?:\\.|[^,+\\])*)/.exec(dn);
  if (!match) return dn;
  // Hex escapes are UTF-8 bytes (`\c3\a9` is é), so the value is rebuilt as bytes before decoding.
  const bytes: number[] = [];
  const characters = Array.from(match[1]!);
  for (let index = 0; index < characters.length; index++) {
    const character = characters[index]!;
    const hex = (characters[index + 1] ?? "") + (characters[index + 2] ?? "");
    if (character === "\\" && /^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      index += 2;
    } else if (character === "\\") {
      index += 1;
      bytes.push(...Buffer.from(characters[index] ?? "", "utf8"));
    } else {
      bytes.push(...Buffer.from(character, "utf8"));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}
