/**
 * @module The Settings screen. It edits the server parameters, which apply to certificates issued
 * after a change, and the directory settings of the user source, which it can also test. It shows
 * the supervised DHT node and TURN server, and offers the CA certificate and the CRL for download.
 */
import { useEffect, useState } from "preact/hooks";
import { api, type ApiError, type ChildStatus, type ServerSettings } from "../api.ts";
import { asApiError, ErrorMessage, Loading, Notice, useApi, useTitle } from "../components.tsx";
import { ServerParameterFields, type ServerParameterValues } from "../server-parameters.tsx";
import {
  DirectoryFields,
  directoryValuesFrom,
  emptyDirectoryValues,
  TestConnection,
  toDirectorySettings,
  type DirectoryType,
  type DirectoryValues,
} from "../directory-form.tsx";
import { formatDuration } from "../format.ts";
import { Children } from "./dashboard.tsx";

export function Settings() {
  useTitle("Settings");
  const server = useApi<ServerSettings>("/api/admin/settings");
  const supervisor = useApi<{ children: ChildStatus[] }>("/api/admin/supervisor");
  return (
    <>
      <h1>Settings</h1>
      <section class="card" aria-labelledby="server-title">
        <h2 id="server-title">Server parameters</h2>
        {server.loading && <Loading />}
        <ErrorMessage error={server.error} />
        {server.data && <ServerParameters data={server.data} />}
      </section>
      <section class="card" aria-labelledby="source-title">
        <h2 id="source-title">User source</h2>
        <UserSource />
      </section>
      <section class="card" aria-labelledby="children-title">
        <h2 id="children-title">DHT node and TURN server</h2>
        {supervisor.loading && <Loading />}
        <ErrorMessage error={supervisor.error} />
        {supervisor.data && <Children children={supervisor.data.children} />}
        <p class="hint">They are configured with the serve options (see jams serve --help) and restarted by the server when they fail.</p>
      </section>
      <section class="card" aria-labelledby="downloads-title">
        <h2 id="downloads-title">Certificates</h2>
        <p>Install the CA certificate where other software must trust your organisation's Jami accounts and devices.</p>
        <p class="downloads">
          <a class="button" href="/api/ca.pem" download="ca.pem">
            Download the CA certificate
          </a>
          <a class="button" href="/api/crl/ca.pem" download="ca-crl.pem">
            Download the CRL
          </a>
        </p>
      </section>
    </>
  );
}

function ServerParameters({ data }: { data: ServerSettings }) {
  const { settings } = data;
  const [values, setValues] = useState<ServerParameterValues>({
    serverDomain: settings.serverDomain ?? "",
    deviceLifetime: formatDuration(settings.deviceLifetime),
    userLifetime: formatDuration(settings.userLifetime),
    crlLifetime: formatDuration(settings.crlLifetime),
    publicNameServer: settings.publicNameServer,
  });
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<ApiError>();
  const [current, setCurrent] = useState(data);
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  const save = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    setSaved(false);
    try {
      const body = { ...values, serverDomain: values.serverDomain.trim() || null };
      setCurrent(await api<ServerSettings>("/api/admin/settings", { method: "PUT", body }));
      setFieldErrors({});
      setSaved(true);
    } catch (caught) {
      const apiError = asApiError(caught);
      setFieldErrors(apiError.fieldErrors);
      setError(apiError);
    }
    setBusy(false);
  };
  return (
    <form onSubmit={save}>
      <ServerParameterFields
        values={values}
        onChange={setValues}
        errors={fieldErrors}
        domainHint="Issued certificates carry their CRL and OCSP addresses under it, and clients get their name server from it. Leave it empty to send neither."
      />
      <p class="hint">
        Changes apply to certificates issued from now on. Enrolled devices keep their certificates and name server until
        they enroll again. Clients now get the name server {current.nameServer}. Version {current.version}.
      </p>
      <ErrorMessage error={error} />
      {saved && <Notice>The server parameters were saved.</Notice>}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Saving…" : "Save server parameters"}
        </button>
      </div>
    </form>
  );
}

interface DirectorySettingsReply {
  type: "LOCAL" | DirectoryType;
  settings?: Record<string, unknown>;
}

function UserSource() {
  const source = useApi<DirectorySettingsReply>("/api/admin/directory/settings");
  const [values, setValues] = useState<DirectoryValues>(emptyDirectoryValues);
  const [errors, setErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<ApiError>();
  const [saved, setSaved] = useState(false);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (source.data?.settings) setValues(directoryValuesFrom(source.data.settings));
  }, [source.data]);

  if (source.loading && !source.data) return <Loading />;
  if (source.error) return <ErrorMessage error={source.error} />;
  const type = source.data!.type;
  if (type === "LOCAL") {
    return <p>Users and passwords are kept in this server's embedded database. The user source cannot change after setup.</p>;
  }
  const save = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    setSaved(false);
    try {
      await api("/api/admin/directory/settings", { method: "PUT", body: { type, settings: toDirectorySettings(type, values) } });
      setErrors({});
      setSaved(true);
    } catch (caught) {
      const apiError = asApiError(caught);
      setErrors(apiError.fieldErrors);
      setError(apiError);
    }
    setBusy(false);
  };
  return (
    <form onSubmit={save}>
      <DirectoryFields type={type} values={values} onChange={setValues} errors={errors} passwordStored />
      <TestConnection type={type} values={values} onFieldErrors={setErrors} />
      <ErrorMessage error={error} />
      {saved && <Notice>The directory settings were saved.</Notice>}
      <div class="actions">
        <button type="submit" class="primary" disabled={busy}>
          {busy ? "Saving…" : "Save directory settings"}
        </button>
      </div>
    </form>
  );
}
