/**
 * @module A user's page: profile and Jami account, their devices with status, password reset
 * for local users, and revocation of one device or of the whole user, each confirmed in a
 * dialog that explains what the Jami client will experience.
 */
import { useState } from "preact/hooks";
import { api, revocationReasons, type ApiError, type Device, type User } from "../api.ts";
import { asApiError, Badge, ConfirmDialog, Empty, ErrorMessage, Field, Loading, Notice, useApi, useTitle } from "../components.tsx";
import { formatDate, formatDay, relativeDays } from "../format.ts";
import { Link } from "../router.tsx";

export function UserPage({ username }: { username: string }) {
  useTitle(username);
  const user = useApi<User>(`/api/admin/user/${encodeURIComponent(username)}`);
  const devices = useApi<{ total: number; devices: Device[] }>(`/api/admin/devices?username=${encodeURIComponent(username)}&limit=500`);
  const [revokingDevice, setRevokingDevice] = useState<Device>();
  const [revokingUser, setRevokingUser] = useState(false);
  const [notice, setNotice] = useState<string>();

  if (user.loading && !user.data) return <Loading />;
  if (user.error) {
    return (
      <>
        <p class="breadcrumb">
          <Link href="/users">Users</Link>
        </p>
        <h1>{username}</h1>
        <ErrorMessage error={user.error} />
      </>
    );
  }
  const profile = user.data!;
  const activeDevices = devices.data?.devices.filter((device) => device.status === "active").length ?? 0;

  return (
    <>
      <p class="breadcrumb">
        <Link href="/users">Users</Link>
      </p>
      <div class="title-row">
        <h1>
          {profile.username} <Badge status={profile.status} />
        </h1>
        {profile.status !== "revoked" && (
          <button type="button" class="danger" onClick={() => setRevokingUser(true)}>
            Revoke user
          </button>
        )}
      </div>
      {notice && <Notice>{notice}</Notice>}
      <div class="grid two">
        <section class="card" aria-labelledby="profile-title">
          <h2 id="profile-title">Profile</h2>
          <dl class="facts">
            <dt>Display name</dt>
            <dd>{profile.displayName || "—"}</dd>
            <dt>Role</dt>
            <dd>{profile.role === "admin" ? "Administrator" : "User"}</dd>
            <dt>Source</dt>
            <dd>{{ local: "Embedded database", ldap: "LDAP directory", ad: "Active Directory" }[profile.source]}</dd>
            <dt>Created</dt>
            <dd>{formatDate(profile.createdAt)}</dd>
            {profile.revokedAt && (
              <>
                <dt>Revoked</dt>
                <dd>{formatDate(profile.revokedAt)}</dd>
              </>
            )}
            <dt>Jami account id</dt>
            <dd class="mono break">{profile.accountId ?? "None yet: it is created at the first device enrollment."}</dd>
            {profile.accountNotAfter && (
              <>
                <dt>Account certificate valid until</dt>
                <dd>
                  {formatDay(profile.accountNotAfter)} ({relativeDays(profile.accountNotAfter)})
                </dd>
              </>
            )}
          </dl>
        </section>
        <PasswordCard user={profile} />
      </div>
      <section class="card" aria-labelledby="devices-title">
        <h2 id="devices-title">Devices</h2>
        {devices.loading && <Loading />}
        <ErrorMessage error={devices.error} />
        {devices.data && devices.data.devices.length === 0 && (
          <Empty>No device yet. A device appears here once the user adds this account in a Jami client.</Empty>
        )}
        {devices.data && devices.data.devices.length > 0 && (
          <div class="table-wrap">
            <table>
              <thead>
                <tr>
                  <th scope="col">Device</th>
                  <th scope="col">Status</th>
                  <th scope="col" class="wide-only">Enrolled</th>
                  <th scope="col" class="wide-only">Valid until</th>
                  <th scope="col">
                    <span class="visually-hidden">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {devices.data.devices.map((device) => (
                  <tr key={device.deviceId}>
                    <th scope="row">
                      {device.name || "(unnamed)"}
                      <span class="mono small" title={device.deviceId}>
                        {device.deviceId.slice(0, 16)}…
                      </span>
                    </th>
                    <td>
                      <Badge status={device.status} />
                      {device.revocationReason && <span class="small"> {device.revocationReason}</span>}
                    </td>
                    <td class="wide-only">{formatDate(device.enrolledAt)}</td>
                    <td class="wide-only">{formatDay(device.notAfter)}</td>
                    <td>
                      {device.status !== "revoked" && (
                        <button type="button" class="danger small" onClick={() => setRevokingDevice(device)} aria-label={`Revoke device ${device.name}`}>
                          Revoke
                        </button>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>
      {revokingDevice && (
        <RevokeDeviceDialog
          device={revokingDevice}
          onClose={() => setRevokingDevice(undefined)}
          onRevoked={() => {
            setNotice(`Device ${revokingDevice.name} was revoked.`);
            devices.reload();
          }}
        />
      )}
      {revokingUser && (
        <RevokeUserDialog
          user={profile}
          activeDevices={activeDevices}
          onClose={() => setRevokingUser(false)}
          onRevoked={(count) => {
            setNotice(`User ${profile.username} was revoked, with ${count} device${count === 1 ? "" : "s"}.`);
            user.reload();
            devices.reload();
          }}
        />
      )}
    </>
  );
}

function PasswordCard({ user }: { user: User }) {
  const [password, setPassword] = useState("");
  const [error, setError] = useState<ApiError>();
  const [done, setDone] = useState(false);
  const [busy, setBusy] = useState(false);
  if (user.source !== "local") {
    return (
      <section class="card" aria-labelledby="password-title">
        <h2 id="password-title">Password</h2>
        <p>This user signs in with the password kept in the {user.source === "ad" ? "Active Directory" : "LDAP directory"}. Change it there.</p>
      </section>
    );
  }
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    setDone(false);
    try {
      await api(`/api/admin/user/${encodeURIComponent(user.username)}`, { method: "PUT", body: { password } });
      setPassword("");
      setDone(true);
    } catch (caught) {
      setError(asApiError(caught));
    }
    setBusy(false);
  };
  return (
    <section class="card" aria-labelledby="password-title">
      <h2 id="password-title">Reset password</h2>
      <form onSubmit={submit}>
        <p class="hint">The new password is needed to enroll new devices. Enrolled devices keep working.</p>
        <Field label="New password" type="password" autoComplete="new-password" value={password} onValue={setPassword} required error={error?.message} disabled={user.status === "revoked"} />
        {done && <Notice>The password was changed.</Notice>}
        <div class="actions">
          <button type="submit" disabled={busy || user.status === "revoked"}>
            {busy ? "Saving…" : "Set password"}
          </button>
        </div>
      </form>
    </section>
  );
}

function ReasonSelect({ value, onChange }: { value: string; onChange: (value: string) => void }) {
  return (
    <div class="field">
      <label for="revocation-reason">Reason (published in the CRL)</label>
      <select id="revocation-reason" value={value} onChange={(event) => onChange(event.currentTarget.value)}>
        {revocationReasons.map(([code, label]) => (
          <option key={code} value={code}>
            {label}
          </option>
        ))}
      </select>
    </div>
  );
}

function RevokeDeviceDialog(props: { device: Device; onClose: () => void; onRevoked: () => void }) {
  const [reason, setReason] = useState("cessationOfOperation");
  return (
    <ConfirmDialog
      title={`Revoke device ${props.device.name}?`}
      confirmLabel="Revoke device"
      danger
      onClose={props.onClose}
      action={async () => {
        await api(`/api/admin/device/${props.device.deviceId}?reason=${reason}`, { method: "DELETE" });
        props.onRevoked();
      }}
    >
      <p>This cannot be undone. What happens next:</p>
      <ul>
        <li>
          The device's access stops at once. Its next sign-in to this server (at every start of Jami, and at the latest 30
          minutes from now) is refused as revoked. Current Jami clients then remove this account from the device and ask for
          the password again; older clients (such as Debian's jamid 13.7) only stop working with this server.
        </li>
        <li>The user's other devices list this device as revoked and drop it.</li>
        <li>Contacts' clients learn it from the revocation list (CRL) and OCSP and stop trusting the device.</li>
        <li>To use this device again, the user adds the account again in Jami, which enrolls it as a new device.</li>
      </ul>
      <ReasonSelect value={reason} onChange={setReason} />
    </ConfirmDialog>
  );
}

function RevokeUserDialog(props: { user: User; activeDevices: number; onClose: () => void; onRevoked: (devices: number) => void }) {
  const [reason, setReason] = useState("privilegeWithdrawn");
  return (
    <ConfirmDialog
      title={`Revoke user ${props.user.username}?`}
      confirmLabel="Revoke user and devices"
      danger
      onClose={props.onClose}
      action={async () => {
        const reply = await api<{ revokedDevices: number }>(`/api/admin/user/${encodeURIComponent(props.user.username)}?reason=${reason}`, {
          method: "DELETE",
        });
        props.onRevoked(reply.revokedDevices);
      }}
    >
      <p>This cannot be undone. What happens next:</p>
      <ul>
        <li>
          All {props.activeDevices} active device{props.activeDevices === 1 ? "" : "s"} and the Jami account certificate are
          revoked. Each device is refused at its next sign-in (at the latest 30 minutes from now), and current Jami clients
          then remove the account.
        </li>
        <li>The user can no longer sign in or enroll a device.</li>
        <li>
          The name <strong>{props.user.username}</strong> stays reserved: a new user with this name cannot be created, so
          colleagues never confuse a new account with the old one.
        </li>
      </ul>
      <ReasonSelect value={reason} onChange={setReason} />
    </ConfirmDialog>
  );
}
