/**
 * @module `GET /api/admin/stats`: the dashboard summary. User and device counts by status,
 * first enrollments per UTC day for the last 30 days, and the organisation CA's validity.
 */
import { count, gte, sql } from "drizzle-orm";
import { Hono } from "hono";
import { loadCa } from "../../authority/ca.ts";
import type { Database } from "../../store/database.ts";
import { devices, users } from "../../store/schema.ts";
import type { AppEnv, Services } from "../context.ts";
import { requireScope } from "../middleware/auth.ts";

const day = 86_400_000;

/** The number of days, today included, that `enrollmentsPerDay` covers. */
export const enrollmentDays = 30;

export function adminStatsRoutes(services: Services): Hono<AppEnv> {
  const app = new Hono<AppEnv>();
  const { db } = services.store;

  app.get("/api/admin/stats", requireScope(services, "ADMIN"), async (c) => {
    const now = Date.now();
    const [userCounts, deviceCounts, enrollmentsPerDay, ca] = await Promise.all([
      countUsers(db),
      countDevices(db, now),
      countEnrollments(db, now),
      describeCa(db),
    ]);
    return c.json({ users: userCounts, devices: deviceCounts, enrollmentsPerDay, ca });
  });

  return app;
}

async function countUsers(db: Database) {
  const row = (
    await db
      .select({
        total: count(),
        revoked: sql<number>`sum(case when ${users.revokedAt} is not null then 1 else 0 end)`,
        disabled: sql<number>`sum(case when ${users.revokedAt} is null and ${users.disabled} = 1 then 1 else 0 end)`,
      })
      .from(users)
  )[0]!;
  const revoked = Number(row.revoked ?? 0);
  const disabled = Number(row.disabled ?? 0);
  return { total: row.total, active: row.total - revoked - disabled, disabled, revoked };
}

async function countDevices(db: Database, now: number) {
  const row = (
    await db
      .select({
        total: count(),
        revoked: sql<number>`sum(case when ${devices.revokedAt} is not null then 1 else 0 end)`,
        expired: sql<number>`sum(case when ${devices.revokedAt} is null and ${devices.notAfter} <= ${now} then 1 else 0 end)`,
      })
      .from(devices)
  )[0]!;
  const revoked = Number(row.revoked ?? 0);
  const expired = Number(row.expired ?? 0);
  return { total: row.total, active: row.total - revoked - expired, revoked, expired };
}

/** Counts first enrollments per UTC day, oldest day first, with a zero for days without any. */
async function countEnrollments(db: Database, now: number): Promise<{ date: string; count: number }[]> {
  const firstDay = Math.floor(now / day) - (enrollmentDays - 1);
  // libSQL binds JS numbers as REAL, so the quotient is cast back to a whole day number.
  const dayNumber = sql<number>`cast(${devices.enrolledAt} / ${day} as integer)`;
  const rows = await db
    .select({ day: dayNumber, count: count() })
    .from(devices)
    .where(gte(devices.enrolledAt, firstDay * day))
    .groupBy(dayNumber);
  const byDay = new Map(rows.map((row) => [Number(row.day), row.count]));
  return Array.from({ length: enrollmentDays }, (_, index) => ({
    date: new Date((firstDay + index) * day).toISOString().slice(0, 10),
    count: byDay.get(firstDay + index) ?? 0,
  }));
}

async function describeCa(db: Database) {
  const ca = await loadCa(db);
  if (!ca) return null;
  return {
    subject: ca.certificate.subject,
    notBefore: ca.certificate.notBefore.toISOString(),
    notAfter: ca.certificate.notAfter.toISOString(),
    serialNumber: ca.certificate.serialNumber,
  };
}

