/**
 * @module The first-run setup wizard, in the four steps of JAMS: administrator account,
 * certification authority, user source, server parameters. The server stores the next step, so
 * after a reload the wizard resumes there. A new tab signs in again with the administrator
 * created in step 1, because `PUT /api/install/start` resumes setup for that administrator.
 */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";
import { api, readToken, storeToken, type ApiError, type Info } from "../api.ts";
import { asApiError, Checkbox, ErrorMessage, Field, useTitle } from "../components.tsx";
import { ServerParameterFields, type ServerParameterValues } from "../server-parameters.tsx";
import {
  DirectoryFields,
  emptyDirectoryValues,
  TestConnection,
  toDirectorySettings,
  type DirectoryType,
  type DirectoryValues,
} from "../directory-form.tsx";

type Step = "start" | "ca" | "auth" | "settings";

const steps: [Step, string][] = [
  ["start", "Administrator"],
  ["ca", "Certification authority"],
  ["auth", "User source"],
  ["settings", "Server parameters"],
];

const nameServerKey = "jams.setup.publicNameServer";

export function Setup(props: { info: Info; onStepSaved: () => Promise<void>; onFinished: () => Promise<void> }) {
  useTitle("Setup");
  const serverStep = props.info.setupStep === "done" ? "settings" : props.info.setupStep;
  const [shown, setShown] = useState<Step>(serverStep);
  const [hasToken, setHasToken] = useState(Boolean(readToken()));
  const reached = steps.findIndex(([step]) => step === serverStep);
  const current = shown === "start" || reached < steps.findIndex(([step]) => step === shown) ? serverStep : shown;

  const advance = async (next: Step) => {
    await props.onStepSaved();
    setShown(next);
  };

  let body: ComponentChildren;
  if (current === "start") {
    body = <AdminStep onDone={() => { setHasToken(true); void advance("ca"); }} />;
  } else if (!hasToken) {
    body = <ResumeStep onDone={() => setHasToken(true)} />;
  } else if (current === "ca") {
    body = <CaStep onDone={() => advance("auth")} />;
  } else if (current === "auth") {
    body = <AuthStep onBack={() => setShown("ca")} onDone={() => advance("settings")} />;
  } else {
    body = <SettingsStep onBack={() => setShown("auth")} onDone={props.onFinished} />;
  }

  return (
    <main class="setup" id="main">
      <h1>Set up the Jami account server</h1>
      <ol class="stepper" aria-label="Setup steps">
        {steps.map(([step, label], index) => (
          <li
            key={step}
            class={step === current ? "current" : index < steps.findIndex(([s]) => s === current) ? "done" : undefined}
            aria-current={step === current ? "step" : undefined}
          >
            <span class="number">{index + 1}</span> {label}
          </li>
        ))}
      </ol>
      <div class="card">{body}</div>
    </main>
  );
}

/** Submits a step's form: disables the button while busy and keeps the error for display. */
function useStepForm<T>(action: () => Promise<T>, onDone: (result: T) => void) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<ApiError>();
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const result = await action();
      setBusy(false);
      onDone(result);
    } catch (caught) {
      setError(asApiError(caught));
      setBusy(false);
    }
  };
  return { busy, error, setError, submit };
}

function AdminStep({ onDone }: { onDone: () => void }) {
  const [username, setUsername] = useState("admin");
  const [password, setPassword] = useState("");
  const [confirm, setConfirm] = useState("");
  const [mismatch, setMismatch] = useState(false);
  const form = useStepForm(
    async () => {
      if (password !== confirm) {
        setMismatch(true);
        throw new Error("passwords differ");
      }
      setMismatch(false);
      const reply = await api<{ access_token: string }>("/api/install/start", {
        method: "PUT",
        body: { username, password },
        auth: false,
      });
      storeToken(reply.access_token);
    },
    onDone,
  );
  const error = form.error?.code === "client_error" ? undefined : form.error;
  return (
    <form onSubmit={form.submit}>
      <h2>1. Create the administrator account</h2>
      <p>This account signs in to this console. It is a local account, so it keeps working if a directory is down.</p>
      <Field label="Username" value={username} onValue={setUsername} autoComplete="username" required error={error?.code === "invalid_username" ? error.message : undefined} />
      <Field label="Password" type="password" value={password} onValue={setPassword} autoComplete="new-password" required />
      <Field
        label="Confirm password"
        type="password"
        value={confirm}
        onValue={setConfirm}
        autoComplete="new-password"
        required
        error={mismatch ? "The two passwords differ." : undefined}
      />
      {error?.code !== "invalid_username" && <ErrorMessage error={error} />}
      <div class="actions">
        <button type="submit" class="primary" disabled={form.busy}>
          {form.busy ? "Creating…" : "Create administrator"}
        </button>
      </div>
    </form>
  );
}

function ResumeStep({ onDone }: { onDone: () => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const form = useStepForm(async () => {
    const reply = await api<{ access_token: string }>("/api/install/start", { method: "PUT", body: { username, password }, auth: false });
    storeToken(reply.access_token);
  }, onDone);
  return (
    <form onSubmit={form.submit}>
      <h2>Resume setup</h2>
      <p>Setup was started earlier. Sign in with the administrator account created in step 1 to continue.</p>
      <Field label="Username" value={username} onValue={setUsername} autoComplete="username" required />
      <Field label="Password" type="password" value={password} onValue={setPassword} autoComplete="current-password" required />
      <ErrorMessage error={form.error} />
      <div class="actions">
        <button type="submit" class="primary" disabled={form.busy}>
          Continue setup
        </button>
      </div>
    </form>
  );
}

const subjectFields = [
  ["commonName", "Common name", "Example Jami CA"],
  ["organization", "Organization", "Example Ltd"],
  ["organizationalUnit", "Organizational unit", "IT"],
  ["locality", "Locality (city)", ""],
  ["state", "State or province", ""],
  ["country", "Country (two-letter code)", "FR"],
] as const;

type SubjectName = (typeof subjectFields)[number][0];

function CaStep({ onDone }: { onDone: () => void }) {
  const [mode, setMode] = useState<"generate" | "import">("generate");
  const [subject, setSubject] = useState<Record<SubjectName, string>>({
    commonName: "",
    organization: "",
    organizationalUnit: "",
    locality: "",
    state: "",
    country: "",
  });
  const [certificate, setCertificate] = useState("");
  const [privateKey, setPrivateKey] = useState("");
  const [passphrase, setPassphrase] = useState("");
  const form = useStepForm(async () => {
    const body =
      mode === "generate"
        ? { mode, fields: Object.fromEntries(Object.entries(subject).filter(([, value]) => value.trim() !== "")) }
        : { mode, certificate, privateKey, ...(passphrase ? { passphrase } : {}) };
    await api("/api/install/ca", { method: "POST", body });
  }, onDone);
  const field = form.error?.field;
  const errorFor = (name: string) => (field === name ? form.error!.message : undefined);

  return (
    <form onSubmit={form.submit}>
      <h2>2. Set up the certification authority</h2>
      <div class="explain">
        <p>
          The organisation CA signs each user's Jami account certificate, and each account signs its devices' certificates.
          Jami clients and peers trust your organisation through it.
        </p>
        <p>
          <strong>It is not the HTTPS certificate of this server.</strong> A TLS server certificate (from Let's Encrypt or
          another public CA) cannot sign other certificates and is rejected here. The HTTPS certificate is given to the
          server with <code>--cert</code> and <code>--key</code> when it starts.
        </p>
      </div>
      <fieldset class="choice">
        <legend>How to get the CA</legend>
        <label>
          <input type="radio" name="ca-mode" checked={mode === "generate"} onChange={() => setMode("generate")} /> Generate a new CA
          on this server (RSA 4096, valid 10 years)
        </label>
        <label>
          <input type="radio" name="ca-mode" checked={mode === "import"} onChange={() => setMode("import")} /> Import an existing
          CA certificate and its private key
        </label>
      </fieldset>
      {mode === "generate" ? (
        <fieldset>
          <legend>Subject of the new CA</legend>
          {subjectFields.map(([name, label, placeholder]) => (
            <Field
              key={name}
              label={name === "commonName" ? `${label} (required)` : label}
              value={subject[name]}
              onValue={(value) => setSubject({ ...subject, [name]: value })}
              placeholder={placeholder}
              required={name === "commonName"}
              maxLength={name === "country" ? 2 : 64}
              error={errorFor(`fields.${name}`)}
            />
          ))}
        </fieldset>
      ) : (
        <fieldset>
          <legend>CA to import</legend>
          <PemField label="CA certificate (PEM)" value={certificate} onValue={setCertificate} error={errorFor("certificate")} placeholder="-----BEGIN CERTIFICATE-----" />
          <PemField label="CA private key (PEM)" value={privateKey} onValue={setPrivateKey} error={errorFor("privateKey")} placeholder="-----BEGIN PRIVATE KEY-----" />
          <Field
            label="Key passphrase (only for an encrypted key)"
            type="password"
            autoComplete="off"
            value={passphrase}
            onValue={setPassphrase}
            error={errorFor("passphrase")}
          />
        </fieldset>
      )}
      {form.error && !["certificate", "privateKey", "passphrase"].includes(field ?? "") && !field?.startsWith("fields.") && (
        <ErrorMessage error={form.error} />
      )}
      <div class="actions">
        <button type="submit" class="primary" disabled={form.busy}>
          {caButtonLabel(mode, form.busy)}
        </button>
      </div>
    </form>
  );
}

function caButtonLabel(mode: "generate" | "import", busy: boolean): string {
  if (mode === "generate") return busy ? "Generating the CA…" : "Generate CA";
  return busy ? "Checking…" : "Import CA";
}

/** Renders a PEM text area that can also be filled from a file. */
function PemField(props: { label: string; value: string; onValue: (value: string) => void; error?: string; placeholder: string }) {
  const readFile = async (event: Event) => {
    const file = (event.currentTarget as HTMLInputElement).files?.[0];
    if (file) props.onValue(await file.text());
  };
  return (
    <div class="pem">
      <Field label={props.label} multiline rows={6} value={props.value} onValue={props.onValue} error={props.error} placeholder={props.placeholder} />
      <label class="file">
        Or read from a file: <input type="file" accept=".pem,.crt,.cer,.key,text/plain" onChange={readFile} />
      </label>
    </div>
  );
}

function AuthStep({ onBack, onDone }: { onBack: () => void; onDone: () => void }) {
  const [type, setType] = useState<"LOCAL" | DirectoryType>("LOCAL");
  const [values, setValues] = useState<DirectoryValues>(emptyDirectoryValues);
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [publicNameServer, setPublicNameServer] = useState(sessionStorage.getItem(nameServerKey) === "true");
  const form = useStepForm(async () => {
    const body = type === "LOCAL" ? { type } : { type, settings: toDirectorySettings(type, values) };
    try {
      await api("/api/install/auth", { method: "POST", body });
    } catch (error) {
      setFieldErrors(asApiError(error).fieldErrors);
      throw error;
    }
    setFieldErrors({});
    sessionStorage.setItem(nameServerKey, String(publicNameServer));
  }, onDone);
  const sources = [
    ["LOCAL", "Embedded database", "Users and passwords are kept by this server. Add them in the Users screen."],
    ["LDAP", "LDAP directory", "Users sign in with their directory name and password (OpenLDAP and others)."],
    ["AD", "Active Directory", "Users sign in with their Windows domain account."],
  ] as const;
  return (
    <form onSubmit={form.submit}>
      <h2>3. Choose the user source</h2>
      <fieldset class="choice">
        <legend>Where users and passwords come from</legend>
        {sources.map(([value, label, hint]) => (
          <label key={value}>
            <input type="radio" name="auth-type" checked={type === value} onChange={() => setType(value)} /> <strong>{label}</strong>
            <span class="hint"> {hint}</span>
          </label>
        ))}
      </fieldset>
      {type !== "LOCAL" && (
        <>
          <DirectoryFields type={type} values={values} onChange={setValues} errors={fieldErrors} />
          <TestConnection type={type} values={values} onFieldErrors={setFieldErrors} />
        </>
      )}
      <Checkbox
        label="Use the public Jami name server (ns.jami.net)"
        checked={publicNameServer}
        onChange={setPublicNameServer}
        hint="Off: this server answers name lookups for its own users, which suits closed networks. On: names are looked up on the public Jami network."
      />
      <ErrorMessage error={form.error} />
      <div class="actions">
        <button type="button" onClick={onBack}>
          Back
        </button>
        <button type="submit" class="primary" disabled={form.busy}>
          {form.busy ? "Saving…" : "Save and continue"}
        </button>
      </div>
    </form>
  );
}

function SettingsStep({ onBack, onDone }: { onBack: () => void; onDone: () => Promise<void> }) {
  const [values, setValues] = useState<ServerParameterValues>({
    serverDomain: location.protocol === "https:" ? location.origin : "",
    deviceLifetime: "365d",
    userLifetime: "730d",
    crlLifetime: "1d",
    publicNameServer: sessionStorage.getItem(nameServerKey) === "true",
  });
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const form = useStepForm(
    async () => {
      const { serverDomain, ...rest } = values;
      const body = { ...(serverDomain.trim() ? { serverDomain } : {}), ...rest };
      try {
        await api("/api/install/settings", { method: "POST", body });
      } catch (error) {
        setFieldErrors(asApiError(error).fieldErrors);
        throw error;
      }
      sessionStorage.removeItem(nameServerKey);
    },
    () => void onDone(),
  );
  return (
    <form onSubmit={form.submit}>
      <h2>4. Server parameters</h2>
      <ServerParameterFields
        values={values}
        onChange={setValues}
        errors={fieldErrors}
        domainHint="The https:// URL Jami clients use to reach this server, such as https://jams.example.org:8443. Issued certificates carry their CRL and OCSP addresses under it; without it they carry none."
      />
      <ErrorMessage error={form.error} />
      <div class="actions">
        <button type="button" onClick={onBack}>
          Back
        </button>
        <button type="submit" class="primary" disabled={form.busy}>
          {form.busy ? "Finishing…" : "Finish setup"}
        </button>
      </div>
    </form>
  );
}
