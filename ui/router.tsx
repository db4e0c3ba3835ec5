/**
 * @module A small router over the History API: `navigate()` pushes a path, `useRoute()`
 * re-renders on every change, and `Link` turns plain clicks into client-side navigation.
 */
import type { AnchorHTMLAttributes, ComponentChildren } from "preact";
import { useEffect, useState } from "preact/hooks";

const listeners = new Set<() => void>();

/** Goes to `path` without a page load; `replace` rewrites the current history entry. */
export function navigate(path: string, replace = false): void {
  if (path !== currentPath()) {
    if (replace) history.replaceState(null, "", path);
    else history.pushState(null, "", path);
  }
  // Listeners run even for the same path: after signing in, the app must render again.
  for (const listener of listeners) listener();
}

/** Returns the current path with its query string. */
export function currentPath(): string {
  return location.pathname + location.search;
}

/** Returns the current location and re-renders the calling component when it changes. */
export function useRoute(): { path: string; query: URLSearchParams } {
  const [, setVersion] = useState(0);
  useEffect(() => {
    const update = () => setVersion((version) => version + 1);
    listeners.add(update);
    addEventListener("popstate", update);
    return () => {
      listeners.delete(update);
      removeEventListener("popstate", update);
    };
  }, []);
  return { path: location.pathname, query: new URLSearchParams(location.search) };
}

/** Renders an anchor that navigates in place on a plain left click and behaves normally otherwise. */
export function Link(props: AnchorHTMLAttributes & { href: string; children?: ComponentChildren }) {
  const onClick = (event: MouseEvent) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(props.href);
  };
  return <a {...props} onClick={onClick} />;
}
