/** @module Formatting of dates and durations for display. */

const day = 86_400_000;

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "short" });
}

export function formatDay(iso: string | null | undefined): string {
  if (!iso) return "—";
  return new Date(iso).toLocaleDateString(undefined, { dateStyle: "medium" });
}

/** Formats milliseconds as whole days, hours or minutes, the unit the API accepts (`365d`). */
export function formatDuration(ms: number): string {
  if (ms % day === 0) return `${ms / day}d`;
  if (ms % 3_600_000 === 0) return `${ms / 3_600_000}h`;
  return `${Math.round(ms / 60_000)}m`;
}

/** Returns "in 12 days" or "3 days ago" relative to now. */
export function relativeDays(iso: string): string {
  const days = Math.round((new Date(iso).getTime() - Date.now()) / day);
  if (days === 0) return "today";
  return days > 0 ? `in ${days} day${days === 1 ? "" : "s"}` : `${-days} day${days === -1 ? "" : "s"} ago`;
}

/** Shortens a long hex id for tables; the full id stays in the title attribute. */
export function shortId(id: string | null | undefined, length = 12): string {
  if (!id) return "—";
  return id.length > length ? `${id.slice(0, length)}…` : id;
}
