/**
 * @module The Users screen: a searchable, paged list of the users stored by this server, a form to
 * create a local user, and, with an LDAP or AD user source, the directory's own user list.
 */
import { useEffect, useState } from "preact/hooks";
import { api, type ApiError, type User } from "../api.ts";
import { asApiError, Badge, Dialog, Empty, ErrorMessage, Field, Loading, Notice, Pager, useApi, useTitle } from "../components.tsx";
import { formatDay, shortId } from "../format.ts";
import { Link, navigate, useRoute } from "../router.tsx";

const pageSize = 20;

interface UserList {
  total: number;
  users: User[];
}

export function Users() {
  useTitle("Users");
  const { query } = useRoute();
  const search = query.get("search") ?? "";
  const status = query.get("status") ?? "";
  const offset = Number(query.get("offset") ?? 0) || 0;
  const view = query.get("view") === "directory" ? "directory" : "server";
  const [searchInput, setSearchInput] = useState(search);
  const [creating, setCreating] = useState(false);
  const [created, setCreated] = useState<string>();
  const source = useApi<{ type: "LOCAL" | "LDAP" | "AD" }>("/api/admin/directory/settings");

  // The URL contains the filters, so a reload or a shared link shows the same page.
  const setQuery = (changes: Record<string, string | number>) => {
    const next = new URLSearchParams(location.search);
    for (const [key, value] of Object.entries(changes)) {
      if (value === "" || value === 0) next.delete(key);
      else next.set(key, String(value));
    }
    const text = next.toString();
    navigate(`/users${text ? `?${text}` : ""}`, true);
  };
  useEffect(() => {
    const timer = setTimeout(() => {
      if (searchInput !== search) setQuery({ search: searchInput, offset: 0 });
    }, 250);
    return () => clearTimeout(timer);
  }, [searchInput]);

  const params = new URLSearchParams({ limit: String(pageSize), offset: String(offset) });
  if (search) params.set("search", search);
  if (status) params.set("status", status);
  const list = useApi<UserList>(view === "server" ? `/api/admin/users?${params}` : null);
  const directory = source.data && source.data.type !== "LOCAL";

  return (
    <>
      <div class="title-row">
        <h1>Users</h1>
        <button type="button" class="primary" onClick={() => setCreating(true)}>
          New local user
        </button>
      </div>
      {created && (
        <Notice>
          User <Link href={`/users/${encodeURIComponent(created)}`}>{created}</Link> was created. They can now enroll a Jami
          device with this server's URL, their name and password.
        </Notice>
      )}
      {directory && (
        <div class="tabs" role="group" aria-label="User list">
          <button type="button" aria-pressed={view === "server"} onClick={() => setQuery({ view: "" })}>
            Known to this server
          </button>
          <button type="button" aria-pressed={view === "directory"} onClick={() => setQuery({ view: "directory", offset: 0 })}>
            In the {source.data!.type === "AD" ? "Active Directory" : "LDAP directory"}
          </button>
        </div>
      )}
      <form class="filters" role="search" onSubmit={(event) => { event.preventDefault(); setQuery({ search: searchInput, offset: 0 }); }}>
        <Field label="Search by name" type="search" value={searchInput} onValue={setSearchInput} />
        {view === "server" && (
          <div class="field">
            <label for="user-status">Status</label>
            <select id="user-status" value={status} onChange={(event) => setQuery({ status: event.currentTarget.value, offset: 0 })}>
              <option value="">All</option>
              <option value="active">Active</option>
              <option value="disabled">Disabled</option>
              <option value="revoked">Revoked</option>
            </select>
          </div>
        )}
      </form>
      {view === "server" ? (
        <>
          {list.loading && <Loading />}
          <ErrorMessage error={list.error} />
          {list.data && <UserTable users={list.data.users} filtered={Boolean(search || status)} />}
          {list.data && <Pager total={list.data.total} offset={offset} limit={pageSize} onOffset={(value) => setQuery({ offset: value })} />}
        </>
      ) : (
        <DirectoryUsers search={search} />
      )}
      {creating && (
        <CreateUserDialog
          onClose={() => setCreating(false)}
          onCreated={(username) => {
            setCreating(false);
            setCreated(username);
            list.reload();
          }}
        />
      )}
    </>
  );
}

function UserTable({ users, filtered }: { users: User[]; filtered: boolean }) {
  if (users.length === 0) {
    return <Empty>{filtered ? "No user matches these filters." : "No user yet. Create a local user, or wait for directory users to sign in."}</Empty>;
  }
  return (
    <div class="table-wrap">
      <table>
        <thead>
          <tr>
            <th scope="col">Name</th>
            <th scope="col">Status</th>
            <th scope="col">Source</th>
            <th scope="col">Devices</th>
            <th scope="col" class="wide-only">Account id</th>
            <th scope="col" class="wide-only">Created</th>
          </tr>
        </thead>
        <tbody>
          {users.map((user) => (
            <tr key={user.username}>
              <th scope="row">
                <Link href={`/users/${encodeURIComponent(user.username)}`}>{user.username}</Link>
                {user.role === "admin" && <span class="tag">admin</span>}
              </th>
              <td>
                <Badge status={user.status} />
              </td>
              <td>{user.source}</td>
              <td>{user.devices ?? 0}</td>
              <td class="wide-only mono" title={user.accountId ?? undefined}>
                {shortId(user.accountId)}
              </td>
              <td class="wide-only">{formatDay(user.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface DirectoryList {
  users: { username: string; displayName: string; email: string; disabled: boolean; accountId: string | null }[];
  total: number;
  page: number;
  numPages: number;
  partial: boolean;
  warning?: string;
}

function DirectoryUsers({ search }: { search: string }) {
  const [page, setPage] = useState(1);
  const query = search || "*";
  const list = useApi<DirectoryList>(`/api/admin/directory/users?q=${encodeURIComponent(query)}&page=${page}&pageSize=${pageSize}`);
  if (list.loading) return <Loading label="Searching the directory…" />;
  if (list.error) return <ErrorMessage error={list.error} />;
  const data = list.data!;
  return (
    <>
      {data.warning && <p class="alert warning">{data.warning}</p>}
      {data.users.length === 0 ? (
        <Empty>No directory user matches.</Empty>
      ) : (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th scope="col">Name</th>
                <th scope="col">Display name</th>
                <th scope="col" class="wide-only">Email</th>
                <th scope="col">Jami account</th>
              </tr>
            </thead>
            <tbody>
              {data.users.map((user) => (
                <tr key={user.username}>
                  <th scope="row">
                    {user.accountId ? <Link href={`/users/${encodeURIComponent(user.username)}`}>{user.username}</Link> : user.username}
                    {user.disabled && <span class="tag">disabled</span>}
                  </th>
                  <td>{user.displayName || "—"}</td>
                  <td class="wide-only">{user.email || "—"}</td>
                  <td>{user.accountId ? "enrolled" : "not enrolled yet"}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <Pager total={data.total} offset={(page - 1) * pageSize} limit={pageSize} onOffset={(offset) => setPage(offset / pageSize + 1)} />
    </>
  );
}

function CreateUserDialog(props: { onClose: () => void; onCreated: (username: string) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const reply = await api<{ username: string }>("/api/admin/user", { method: "POST", body: { username, password } });
      props.onCreated(reply.username);
    } catch (caught) {
      setError(asApiError(caught));
      setBusy(false);
    }
  };
  const usernameError = error && ["invalid_username", "user_exists"].includes(error.code) ? error.message : undefined;
  const passwordError = error?.code === "invalid_request" && /password/.test(error.message) ? error.message : undefined;
  return (
    <Dialog title="New local user" onClose={props.onClose}>
      <form onSubmit={submit}>
        <p>A local user signs in with the name and password set here. Directory users need no account here: they appear after their first sign-in.</p>
        <Field label="Username" value={username} onValue={setUsername} autoComplete="off" required error={usernameError} />
        <Field label="Password" type="password" value={password} onValue={setPassword} autoComplete="new-password" required error={passwordError} />
        {!usernameError && !passwordError && <ErrorMessage error={error} />}
        <div class="actions">
          <button type="button" onClick={props.onClose}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={busy}>
            {busy ? "Creating…" : "Create user"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
