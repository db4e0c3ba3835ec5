/**
 * @module The LDAP / Active Directory settings form and its "Test connection" button, shared by
 * the setup wizard and the Settings screen.
 */
import { useState } from "preact/hooks";
import { api, ApiError } from "./api.ts";
import { asApiError, Checkbox, ErrorMessage, Field } from "./components.tsx";

export type DirectoryType = "LDAP" | "AD";

/** The form's values; text fields stay strings until `toDirectorySettings` converts them. */
export interface DirectoryValues {
  url: string;
  host: string;
  port: string;
  ssl: boolean;
  startTls: boolean;
  domain: string;
  bindDn: string;
  bindUser: string;
  bindPassword: string;
  baseDn: string;
  loginAttribute: string;
  userFilter: string;
  caCertificates: string;
  unsafeSkipCertificateCheck: boolean;
}

export const emptyDirectoryValues: DirectoryValues = {
  url: "",
  host: "",
  port: "",
  ssl: true,
  startTls: false,
  domain: "",
  bindDn: "",
  bindUser: "",
  bindPassword: "",
  baseDn: "",
  loginAttribute: "uid",
  userFilter: "",
  caCertificates: "",
  unsafeSkipCertificateCheck: false,
};

/** Fills the form from settings the API returned (the bind password is never returned). */
export function directoryValuesFrom(settings: Record<string, unknown>): DirectoryValues {
  const values: DirectoryValues = { ...emptyDirectoryValues };
  for (const key of Object.keys(values) as (keyof DirectoryValues)[]) {
    const value = settings[key];
    if (typeof value === "boolean" && typeof values[key] === "boolean") (values as unknown as Record<string, unknown>)[key] = value;
    else if (typeof value === "string" || typeof value === "number") (values as unknown as Record<string, unknown>)[key] = String(value);
  }
  return values;
}

/** Converts the form to the API's settings object; empty optional fields are left out. */
export function toDirectorySettings(type: DirectoryType, values: DirectoryValues): Record<string, unknown> {
  const settings: Record<string, unknown> = { baseDn: values.baseDn };
  const optional = (key: string, value: string) => {
    if (value.trim() !== "") settings[key] = value;
  };
  if (values.port.trim() !== "") settings.port = Number(values.port);
  optional("bindPassword", values.bindPassword);
  optional("userFilter", values.userFilter);
  optional("caCertificates", values.caCertificates);
  settings.startTls = values.startTls;
  settings.unsafeSkipCertificateCheck = values.unsafeSkipCertificateCheck;
  if (type === "LDAP") {
    settings.url = values.url;
    settings.bindDn = values.bindDn;
    optional("loginAttribute", values.loginAttribute);
  } else {
    settings.host = values.host;
    settings.ssl = values.ssl;
    settings.domain = values.domain;
    settings.bindUser = values.bindUser;
  }
  return settings;
}

interface TestReport {
  ok: boolean;
  steps: { step: string; ok: boolean; message: string }[];
}

/** Renders the directory fields for `type`, with the API's field errors under each field. */
export function DirectoryFields(props: {
  type: DirectoryType;
  values: DirectoryValues;
  onChange: (values: DirectoryValues) => void;
  errors: Record<string, string>;
  passwordStored?: boolean;
}) {
  const { type, values, errors } = props;
  const set = (key: keyof DirectoryValues) => (value: string | boolean) => props.onChange({ ...values, [key]: value });
  return (
    <fieldset class="directory">
      <legend>{type === "LDAP" ? "LDAP directory" : "Active Directory"}</legend>
      {type === "LDAP" ? (
        <Field label="Server URL" value={values.url} onValue={set("url")} error={errors.url} placeholder="ldaps://ldap.example.org" hint="ldap:// or ldaps://, with the port if it is not the default." />
      ) : (
        <>
          <Field label="Domain controller host" value={values.host} onValue={set("host")} error={errors.host} placeholder="dc1.corp.example.org" />
          <Field label="Domain (NetBIOS name)" value={values.domain} onValue={set("domain")} error={errors.domain} placeholder="CORP" />
          <Checkbox label="Use LDAPS (TLS on port 636)" checked={values.ssl} onChange={set("ssl")} />
        </>
      )}
      <Field label="Port (optional)" inputMode="numeric" value={values.port} onValue={set("port")} error={errors.port} />
      <Checkbox label="Use StartTLS" checked={values.startTls} onChange={set("startTls")} />
      {errors.startTls && <p class="error">{errors.startTls}</p>}
      {type === "LDAP" ? (
        <Field label="Bind DN" value={values.bindDn} onValue={set("bindDn")} error={errors.bindDn} placeholder="cn=jams,ou=services,dc=example,dc=org" hint="The lookup account the server binds as to find users." />
      ) : (
        <Field label="Bind user" value={values.bindUser} onValue={set("bindUser")} error={errors.bindUser} placeholder="jams-lookup" hint="The lookup account, as a user name, user@domain or DOMAIN\\user." />
      )}
      <Field
        label="Bind password"
        type="password"
        autoComplete="new-password"
        value={values.bindPassword}
        onValue={set("bindPassword")}
        error={errors.bindPassword}
        hint={props.passwordStored ? "Leave empty to keep the stored password." : undefined}
      />
      <Field label="Base DN" value={values.baseDn} onValue={set("baseDn")} error={errors.baseDn} placeholder="ou=people,dc=example,dc=org" />
      {type === "LDAP" && (
        <Field label="Login attribute" value={values.loginAttribute} onValue={set("loginAttribute")} error={errors.loginAttribute} hint="The attribute users type as their name, such as uid or mail." />
      )}
      <Field label="User filter (optional)" value={values.userFilter} onValue={set("userFilter")} error={errors.userFilter} placeholder="(objectClass=person)" />
      <Field
        label="CA certificates for the directory's TLS (optional)"
        multiline
        rows={4}
        value={values.caCertificates}
        onValue={set("caCertificates")}
        error={errors.caCertificates}
        hint="PEM bundle, when the directory's certificate is not from a CA in the system store."
      />
      <Checkbox
        label="Skip the TLS certificate check (unsafe: only for a first test)"
        checked={values.unsafeSkipCertificateCheck}
        onChange={set("unsafeSkipCertificateCheck")}
      />
    </fieldset>
  );
}

/** Renders the "Test connection" button and the step-by-step report of the last test. */
export function TestConnection(props: { type: DirectoryType; values: DirectoryValues; onFieldErrors: (errors: Record<string, string>) => void }) {
  const [report, setReport] = useState<TestReport>();
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const test = async () => {
    setBusy(true);
    setReport(undefined);
    setError(undefined);
    try {
      const settings = toDirectorySettings(props.type, props.values);
      setReport(await api<TestReport>("/api/admin/directory/test", { method: "POST", body: { type: props.type, settings } }));
      props.onFieldErrors({});
    } catch (caught) {
      const apiError = asApiError(caught);
      props.onFieldErrors(apiError.fieldErrors);
      setError(apiError);
    } finally {
      setBusy(false);
    }
  };
  return (
    <div class="test-connection">
      <button type="button" onClick={test} disabled={busy}>
        {busy ? "Testing…" : "Test connection"}
      </button>
      <ErrorMessage error={error} />
      {report && (
        <div role="status" class={report.ok ? "alert success" : "alert error"}>
          <strong>{report.ok ? "The directory answered: connection works." : "The connection test failed."}</strong>
          <ul class="steps">
            {report.steps.map((step) => (
              <li key={step.step} class={step.ok ? "ok" : "failed"}>
                <span aria-hidden="true">{step.ok ? "✓" : "✗"}</span> {step.step}: {step.message}
              </li>
            ))}
          </ul>
        </div>
      )}
    </div>
  );
}
