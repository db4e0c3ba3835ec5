/** @module The sign-in page, and the sign-in dialog shown over a screen when the session expired. */
import { useState } from "preact/hooks";
import { signIn, type ApiError } from "../api.ts";
import { asApiError, Dialog, ErrorMessage, Field, useTitle } from "../components.tsx";
import { navigate } from "../router.tsx";

function useSignInForm(onSignedIn: () => void) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<ApiError>();
  const [busy, setBusy] = useState(false);
  const submit = async (event: Event) => {
    event.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      await signIn(username, password);
      onSignedIn();
    } catch (caught) {
      setError(asApiError(caught));
      setBusy(false);
    }
  };
  const fields = (
    <>
      <Field label="Username" value={username} onValue={setUsername} autoComplete="username" required />
      <Field label="Password" type="password" value={password} onValue={setPassword} autoComplete="current-password" required />
      <ErrorMessage error={error} />
    </>
  );
  return { submit, fields, busy };
}

export function SignIn({ next }: { next: string | null }) {
  useTitle("Sign in");
  const target = next && next.startsWith("/") && !next.startsWith("//") && next !== "/signin" ? next : "/";
  const form = useSignInForm(() => navigate(target, true));
  return (
    <main class="centered" id="main">
      <form class="card narrow" onSubmit={form.submit}>
        <h1>Sign in</h1>
        <p>Sign in with an administrator account of this Jami account server.</p>
        {form.fields}
        <div class="actions">
          <button type="submit" class="primary" disabled={form.busy}>
            {form.busy ? "Signing in…" : "Sign in"}
          </button>
        </div>
      </form>
    </main>
  );
}

export function SessionDialog(props: { onSignedIn: () => void; onCancel: () => void }) {
  const form = useSignInForm(props.onSignedIn);
  return (
    <Dialog title="Session expired" onClose={props.onCancel}>
      <form onSubmit={form.submit}>
        <p>Your session has expired. Sign in again to continue; what you entered on the page is kept.</p>
        {form.fields}
        <div class="actions">
          <button type="button" onClick={props.onCancel}>
            Cancel
          </button>
          <button type="submit" class="primary" disabled={form.busy}>
            {form.busy ? "Signing in…" : "Sign in and continue"}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
