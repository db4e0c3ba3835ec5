/**
 * @module The server parameter fields shared by the setup wizard's last step and the Settings
 * screen: public URL, certificate and CRL lifetimes, and the name server choice.
 */
import { Checkbox, Field } from "./components.tsx";

/** Form values of the server parameters; lifetimes are durations such as "365d". */
export interface ServerParameterValues {
  serverDomain: string;
  deviceLifetime: string;
  userLifetime: string;
  crlLifetime: string;
  publicNameServer: boolean;
}

const lifetimeHint = "A duration such as 365d, 12h or 30m.";

/** Renders the server parameter fields, with each API field error under its field. */
export function ServerParameterFields(props: {
  values: ServerParameterValues;
  onChange: (values: ServerParameterValues) => void;
  errors: Record<string, string>;
  domainHint: string;
}) {
  const { values, errors } = props;
  const set = (change: Partial<ServerParameterValues>) => props.onChange({ ...values, ...change });
  return (
    <>
      <Field
        label="Server domain (public URL)"
        type="url"
        value={values.serverDomain}
        onValue={(serverDomain) => set({ serverDomain })}
        error={errors.serverDomain}
        placeholder="https://jams.example.org"
        hint={props.domainHint}
      />
      <Field
        label="Device certificate lifetime"
        value={values.deviceLifetime}
        onValue={(deviceLifetime) => set({ deviceLifetime })}
        error={errors.deviceLifetime}
        hint={lifetimeHint}
      />
      <Field
        label="User (account) certificate lifetime"
        value={values.userLifetime}
        onValue={(userLifetime) => set({ userLifetime })}
        error={errors.userLifetime}
        hint={lifetimeHint}
      />
      <Field
        label="CRL lifetime"
        value={values.crlLifetime}
        onValue={(crlLifetime) => set({ crlLifetime })}
        error={errors.crlLifetime}
        hint={`How long a published revocation list stays valid. ${lifetimeHint}`}
      />
      <Checkbox
        label="Use the public Jami name server (ns.jami.net)"
        checked={values.publicNameServer}
        onChange={(publicNameServer) => set({ publicNameServer })}
      />
    </>
  );
}
