/** @module The Devices screen: every enrolled device, filtered by status, newest first. */
import type { Device } from "../api.ts";
import { Badge, Empty, ErrorMessage, Loading, Pager, useApi, useTitle } from "../components.tsx";
import { formatDate, formatDay } from "../format.ts";
import { Link, navigate, useRoute } from "../router.tsx";

const pageSize = 25;

export function Devices() {
  useTitle("Devices");
  const { query } = useRoute();
  const status = query.get("status") ?? "";
  const offset = Number(query.get("offset") ?? 0) || 0;
  const params = new URLSearchParams({ limit: String(pageSize), offset: String(offset) });
  if (status) params.set("status", status);
  const list = useApi<{ total: number; devices: Device[] }>(`/api/admin/devices?${params}`);
  const go = (nextStatus: string, nextOffset: number) => {
    const next = new URLSearchParams();
    if (nextStatus) next.set("status", nextStatus);
    if (nextOffset) next.set("offset", String(nextOffset));
    navigate(`/devices${next.size ? `?${next}` : ""}`, true);
  };
  return (
    <>
      <h1>Devices</h1>
      <div class="filters">
        <div class="field">
          <label for="device-status">Status</label>
          <select id="device-status" value={status} onChange={(event) => go(event.currentTarget.value, 0)}>
            <option value="">All</option>
            <option value="active">Active</option>
            <option value="revoked">Revoked</option>
            <option value="expired">Expired</option>
          </select>
        </div>
      </div>
      {list.loading && <Loading />}
      <ErrorMessage error={list.error} />
      {list.data && list.data.devices.length === 0 && (
        <Empty>{status ? `No ${status} device.` : "No device has enrolled yet. Devices appear here when users add their account in a Jami client."}</Empty>
      )}
      {list.data && list.data.devices.length > 0 && (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Device</th>
                <th scope="col">User</th>
                <th scope="col">Status</th>
                <th scope="col" class="wide-only">Enrolled</th>
                <th scope="col" class="wide-only">Valid until</th>
              </tr>
            </thead>
            <tbody>
              {list.data.devices.map((device) => (
                <tr key={device.deviceId}>
                  <th scope="row">
                    {device.name || "(unnamed)"}
                    <span class="mono small" title={device.deviceId}>
                      {device.deviceId.slice(0, 16)}…
                    </span>
                  </th>
                  <td>
                    <Link href={`/users/${encodeURIComponent(device.username)}`}>{device.username}</Link>
                  </td>
                  <td>
                    <Badge status={device.status} />
                  </td>
                  <td class="wide-only">{formatDate(device.enrolledAt)}</td>
                  <td class="wide-only">{formatDay(device.notAfter)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {list.data && <Pager total={list.data.total} offset={offset} limit={pageSize} onOffset={(value) => go(status, value)} />}
    </>
  );
}
