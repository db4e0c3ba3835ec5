/**
 * @module LDAP search filters built from untrusted input. Every value placed in a filter goes
 * through `escapeFilterValue`, so a login name or search query can never change a filter's logic.
 */

/**
 * Escapes a value for an LDAP filter (RFC 4515 section 3): `*`, `(`, `)`, `\` and NUL become
 * `\2a`, `\28`, `\29`, `\5c` and `\00`. Other characters, including non-ASCII, pass unchanged
 * because the filter is sent as UTF-8.
 */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\u0000]/g, (character) => `\\${character.charCodeAt(0).toString(16).padStart(2, "0")}`);
}

/** Joins filters with AND, dropping empty ones; a single filter is returned as it is. */
export function andFilter(...filters: (string | undefined)[]): string {
  const present = filters.filter((filter): filter is string => Boolean(filter));
  if (present.length === 1) return present[0]!;
  return `(&${present.join("")})`;
}

/** Builds an equality filter `(attribute=value)` with the value escaped. */
export function equalityFilter(attribute: string, value: string): string {
  return `(${attribute}=${escapeFilterValue(value)})`;
}

/**
 * Builds a filter matching entries where any of `attributes` contains `query` as a substring. The query
 * is escaped first, so a `*` typed by the user matches a literal star: the only wildcard is the
 * one this function adds. An empty query returns undefined: no condition, so `andFilter` drops it.
 */
export function substringFilter(attributes: string[], query: string): string | undefined {
  if (query === "") return undefined;
  const value = escapeFilterValue(query);
  const terms = attributes.map((attribute) => `(${attribute}=*${value}*)`);
  return terms.length === 1 ? terms[0]! : `(|${terms.join("")})`;
}
