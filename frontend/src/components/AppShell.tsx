import { useEffect, useRef } from "react";
import { Link, Outlet, useLocation } from "react-router";

import { useConnectivity } from "../hooks/useConnectivity";
import { useLiveInboxCount } from "../hooks/useLiveInboxCount";
import { useAppStore } from "../store";
import { ConnectionBanner } from "./ConnectionBanner";
import { Icon } from "./Icon";
import { LogoutForm } from "./LogoutForm";
import { PrimaryNav } from "./PrimaryNav";
import { ThemeToggle } from "./ThemeToggle";

/** Moves focus to the main region after client-side navigation, as a full page load would. */
function useFocusMainOnNavigate() {
  const { pathname } = useLocation();
  const mainRef = useRef<HTMLElement>(null);
  const isFirstRender = useRef(true);
  useEffect(() => {
    if (isFirstRender.current) {
      isFirstRender.current = false;
      return;
    }
    mainRef.current?.focus({ preventScroll: false });
  }, [pathname]);
  return mainRef;
}

export function AppShell() {
  const user = useAppStore((state) => state.user);
  const urls = useAppStore((state) => state.urls);
  const mainRef = useFocusMainOnNavigate();
  useConnectivity();
  useLiveInboxCount(user !== null);

  return (
    <div className="app-shell">
      <a className="skip-link" href="#main">
        Skip to content
      </a>
      <header className="app-header">
        <div className="app-header__inner">
          <Link to="/workflows" className="brand">
            <Icon name="flow" size={22} />
            <span>Flowdeck</span>
          </Link>
          <PrimaryNav adminUrl={user?.is_staff ? urls.admin : null} />
          <div className="user-menu">
            <ThemeToggle />
            {user && (
              <>
                <span className="user-menu__name">
                  <span className="visually-hidden">Signed in as </span>
                  {user.username}
                </span>
                <LogoutForm action={urls.logout} />
              </>
            )}
          </div>
        </div>
      </header>
      <ConnectionBanner />
      <main id="main" className="app-main" ref={mainRef} tabIndex={-1}>
        <Outlet />
      </main>
      <footer className="app-footer">
        <a href={urls.api_docs}>API documentation</a>
      </footer>
    </div>
  );
}
