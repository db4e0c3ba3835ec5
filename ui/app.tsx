/**
 * @module The console shell: reads `/api/info` to choose between the setup wizard, the sign-in
 * page and the signed-in screens, and hosts the sign-in dialog shown when a session expires.
 */
import { useEffect, useState } from "preact/hooks";
import { ApiError, api, onSessionExpired, readToken, storeToken, type Info } from "./api.ts";
import { ErrorMessage, Loading } from "./components.tsx";
import { Dashboard } from "./pages/dashboard.tsx";
import { Devices } from "./pages/devices.tsx";
import { SessionDialog, SignIn } from "./pages/signin.tsx";
import { Settings } from "./pages/settings.tsx";
import { Setup } from "./pages/setup.tsx";
import { UserPage } from "./pages/user.tsx";
import { Users } from "./pages/users.tsx";
import { Link, navigate, useRoute } from "./router.tsx";

interface Prompt {
  resolve: () => void;
  reject: (error: Error) => void;
}

export function App() {
  const route = useRoute();
  const [info, setInfo] = useState<Info>();
  const [infoError, setInfoError] = useState<ApiError>();
  const [prompt, setPrompt] = useState<Prompt>();

  const loadInfo = () =>
    api<Info>("/api/info", { auth: false }).then(setInfo, (error: ApiError) => setInfoError(error));
  useEffect(() => {
    void loadInfo();
    onSessionExpired(() => new Promise<void>((resolve, reject) => setPrompt({ resolve, reject })));
  }, []);

  if (infoError) return <main class="centered"><ErrorMessage error={infoError} /></main>;
  if (!info) return <main class="centered"><Loading /></main>;

  const sessionDialog = prompt && (
    <SessionDialog
      onSignedIn={() => {
        setPrompt(undefined);
        prompt.resolve();
      }}
      onCancel={() => {
        setPrompt(undefined);
        prompt.reject(new ApiError(401, "not_authenticated", "Your session expired. Sign in again, then repeat the action; your entries are kept."));
      }}
    />
  );

  if (!info.installed) {
    if (route.path !== "/setup") navigate("/setup", true);
    return (
      <>
        <Setup info={info} onFinished={() => loadInfo().then(() => navigate("/", true))} onStepSaved={loadInfo} />
        {sessionDialog}
      </>
    );
  }
  if (route.path === "/setup") {
    navigate("/", true);
    return null;
  }
  if (!readToken() || route.path === "/signin") {
    return <SignIn next={route.path === "/signin" ? route.query.get("next") : route.path + location.search} />;
  }
  return (
    <>
      <Shell path={route.path} version={info.version} />
      {sessionDialog}
    </>
  );
}

const sections = [
  ["/", "Dashboard"],
  ["/users", "Users"],
  ["/devices", "Devices"],
  ["/settings", "Settings"],
] as const;

function Shell({ path, version }: { path: string; version: string }) {
  const section = path === "/" ? "/" : `/${path.split("/")[1]}`;
  const signOut = () => {
    storeToken(null);
    navigate("/signin");
  };
  return (
    <>
      <a class="skip-link" href="#main">
        Skip to content
      </a>
      <header class="topbar">
        <Link href="/" class="brand">
          Jami account server
        </Link>
        <nav aria-label="Main">
          <ul>
            {sections.map(([href, label]) => (
              <li key={href}>
                <Link href={href} aria-current={section === href ? "page" : undefined}>
                  {label}
                </Link>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" class="signout" onClick={signOut}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Screen path={path} />
      </main>
      <footer class="footer">jams {version}</footer>
    </>
  );
}

function Screen({ path }: { path: string }) {
  if (path === "/") return <Dashboard />;
  if (path === "/users") return <Users />;
  if (path.startsWith("/users/")) return <UserPage username={decodeURIComponent(path.slice("/users/".length))} />;
  if (path === "/devices") return <Devices />;
  if (path === "/settings") return <Settings />;
  return (
    <section>
      <h1>Page not found</h1>
      <p>
        There is no screen at <code>{path}</code>. <Link href="/">Go to the dashboard</Link>.
      </p>
    </section>
  );
}
