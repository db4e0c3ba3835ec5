/**
 * @module The dashboard: user and device counts, first enrollments per day (a bar chart),
 * CA validity, the supervised DHT node and TURN server, and the latest warnings and errors.
 */
import type { ChildStatus, RecentEvent, Stats } from "../api.ts";
import { Badge, Empty, ErrorMessage, Loading, useApi, useTitle } from "../components.tsx";
import { formatDate, formatDay, relativeDays } from "../format.ts";
import { Link } from "../router.tsx";

export function Dashboard() {
  useTitle("Dashboard");
  const stats = useApi<Stats>("/api/admin/stats");
  const supervisor = useApi<{ children: ChildStatus[] }>("/api/admin/supervisor");
  const events = useApi<{ events: RecentEvent[]; dropped: number }>("/api/admin/events?limit=20");
  return (
    <>
      <h1>Dashboard</h1>
      {stats.loading && !stats.data && <Loading />}
      <ErrorMessage error={stats.error} />
      {stats.data && <Counts stats={stats.data} />}
      <div class="grid two">
        <section class="card" aria-labelledby="enrollments-title">
          <h2 id="enrollments-title">Enrollments, last 30 days</h2>
          {stats.data && <EnrollmentChart days={stats.data.enrollmentsPerDay} />}
        </section>
        <section class="card" aria-labelledby="ca-title">
          <h2 id="ca-title">Certification authority</h2>
          {stats.data && <CaValidity ca={stats.data.ca} />}
        </section>
      </div>
      <div class="grid two">
        <section class="card" aria-labelledby="network-title">
          <h2 id="network-title">DHT node and TURN server</h2>
          {supervisor.loading && !supervisor.data && <Loading />}
          <ErrorMessage error={supervisor.error} />
          {supervisor.data && <Children children={supervisor.data.children} />}
        </section>
        <section class="card" aria-labelledby="events-title">
          <h2 id="events-title">Recent warnings and errors</h2>
          {events.loading && !events.data && <Loading />}
          <ErrorMessage error={events.error} />
          {events.data && <Events events={events.data.events} />}
          <button type="button" onClick={events.reload}>
            Refresh
          </button>
        </section>
      </div>
    </>
  );
}

function Counts({ stats }: { stats: Stats }) {
  return (
    <div class="tiles">
      <Link class="tile" href="/users">
        <span class="tile-value">{stats.users.active}</span>
        <span class="tile-label">active users</span>
        <span class="tile-detail">
          {stats.users.total} in all, {stats.users.revoked} revoked
        </span>
      </Link>
      <Link class="tile" href="/devices?status=active">
        <span class="tile-value">{stats.devices.active}</span>
        <span class="tile-label">active devices</span>
        <span class="tile-detail">
          {stats.devices.revoked} revoked, {stats.devices.expired} expired
        </span>
      </Link>
      <div class="tile">
        <span class="tile-value">{stats.enrollmentsPerDay.reduce((sum, day) => sum + day.count, 0)}</span>
        <span class="tile-label">enrollments</span>
        <span class="tile-detail">in the last 30 days</span>
      </div>
    </div>
  );
}

/** Renders an SVG bar chart, labelled with the total for screen readers; each bar has its day and count as a tooltip. */
function EnrollmentChart({ days }: { days: Stats["enrollmentsPerDay"] }) {
  const max = Math.max(1, ...days.map((day) => day.count));
  const width = 300;
  const height = 80;
  const barWidth = width / days.length;
  const total = days.reduce((sum, day) => sum + day.count, 0);
  return (
    <figure class="chart">
      <svg viewBox={`0 0 ${width} ${height + 14}`} role="img" aria-label={`${total} enrollments in the last ${days.length} days`}>
        {days.map((day, index) => {
          const barHeight = (day.count / max) * height;
          return (
            <rect key={day.date} x={index * barWidth + 1} y={height - barHeight} width={barWidth - 2} height={Math.max(barHeight, 0.5)} class={day.count ? "bar" : "bar zero"}>
              <title>
                {day.date}: {day.count}
              </title>
            </rect>
          );
        })}
        <text x="0" y={height + 12} class="axis">
          {formatDay(days[0]?.date)}
        </text>
        <text x={width} y={height + 12} class="axis" text-anchor="end">
          today
        </text>
      </svg>
      <figcaption>
        {total === 0 ? "No device enrolled in the last 30 days." : `Busiest day: ${max} enrollment${max === 1 ? "" : "s"}.`}
      </figcaption>
    </figure>
  );
}

function CaValidity({ ca }: { ca: Stats["ca"] }) {
  if (!ca) return <Empty>No CA is stored.</Empty>;
  const remainingDays = (new Date(ca.notAfter).getTime() - Date.now()) / 86_400_000;
  let state = "active";
  if (remainingDays <= 0) state = "expired";
  else if (remainingDays < 90) state = "expiring";
  return (
    <dl class="facts">
      <dt>Subject</dt>
      <dd>{ca.subject}</dd>
      <dt>Valid from</dt>
      <dd>{formatDay(ca.notBefore)}</dd>
      <dt>Valid until</dt>
      <dd>
        {formatDay(ca.notAfter)} ({relativeDays(ca.notAfter)}) <Badge status={state} />
      </dd>
      <dt>Download</dt>
      <dd>
        <a href="/api/ca.pem" download="ca.pem">
          CA certificate
        </a>{" "}
        ·{" "}
        <a href="/api/crl/ca.pem" download="ca-crl.pem">
          CRL
        </a>
      </dd>
    </dl>
  );
}

/** Renders the supervised children's states, on the dashboard and the Settings screen. */
export function Children({ children }: { children: ChildStatus[] }) {
  if (children.length === 0) {
    return <Empty>No DHT node or TURN server is enabled on this server.</Empty>;
  }
  return (
    <ul class="children">
      {children.map((child) => (
        <li key={child.name}>
          <strong>{child.name}</strong> <Badge status={child.state} />
          <span class="detail">
            {child.pid !== null && ` pid ${child.pid}`}
            {child.uptimeSeconds !== null && `, up ${Math.round(child.uptimeSeconds / 60)} min`}
            {child.restarts > 0 && `, ${child.restarts} restart${child.restarts === 1 ? "" : "s"}`}
          </span>
          {child.problem && <p class="error">{child.problem}</p>}
          {child.lastHealthCheck && (
            <p class="hint">
              Last health check {formatDate(child.lastHealthCheck.at)}: {child.lastHealthCheck.ok ? "ok" : "failed"}
              {child.lastHealthCheck.detail && ` (${child.lastHealthCheck.detail})`}
            </p>
          )}
        </li>
      ))}
    </ul>
  );
}

function Events({ events }: { events: RecentEvent[] }) {
  if (events.length === 0) return <Empty>No warning or error since the server started.</Empty>;
  return (
    <ul class="events">
      {events.map((event, index) => (
        <li key={index} class={`event-${event.level}`}>
          <span class="time">{formatDate(event.time)}</span> <Badge status={event.level} /> {event.component && <code>{event.component}</code>}{" "}
          {event.message}
          {event.request && <> · <code>{event.request}</code></>}
          {event.code && <> · <code>{event.code}</code></>}
          {event.error && <p class="detail">{event.error}</p>}
          {event.requestId && <p class="hint">request {event.requestId}</p>}
        </li>
      ))}
    </ul>
  );
}
