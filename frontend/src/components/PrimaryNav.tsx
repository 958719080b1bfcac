import { memo } from "react";
import { NavLink } from "react-router";

import { useAppStore } from "../store";

const SECTIONS = [
  { to: "/workflows", label: "Workflows" },
  { to: "/runs", label: "Runs" },
  { to: "/inbox", label: "Inbox" },
  { to: "/agents", label: "Agents" },
] as const;

const linkClass = ({ isActive }: { isActive: boolean }) => (isActive ? "nav-link nav-link--active" : "nav-link");

/** Shown past this; the inbox page has the exact number. */
const MAX_BADGE_COUNT = 99;

/** The number of approvals waiting for the user, kept live by the shell (useLiveInboxCount). */
const InboxBadge = memo(function InboxBadge() {
  const count = useAppStore((state) => state.pendingApprovalCount);
  if (!count) return null;
  const shown = count > MAX_BADGE_COUNT ? `${MAX_BADGE_COUNT}+` : String(count);
  return (
    <span className="nav-badge" data-testid="inbox-count" data-count={count}>
      {shown}
      <span className="visually-hidden">{count === 1 ? " approval waiting" : " approvals waiting"}</span>
    </span>
  );
});

/** NavLink sets aria-current="page" on the active section. Admin is a server page, not a route. */
export const PrimaryNav = memo(function PrimaryNav({ adminUrl }: { adminUrl: string | null }) {
  return (
    <nav className="primary-nav" aria-label="Main">
      <ul>
        {SECTIONS.map((section) => (
          <li key={section.to}>
            <NavLink to={section.to} className={linkClass}>
              {section.label}
              {section.to === "/inbox" && <InboxBadge />}
            </NavLink>
          </li>
        ))}
        {adminUrl && <li><NavLink to="/ops" className={linkClass}>Operations</NavLink></li>}
        {adminUrl && (
          <li>
            <a href={adminUrl} className="nav-link">
              Admin
            </a>
          </li>
        )}
      </ul>
    </nav>
  );
});
