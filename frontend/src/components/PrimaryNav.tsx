import { memo } from "react";
import { NavLink } from "react-router";

const SECTIONS = [
  { to: "/workflows", label: "Workflows" },
  { to: "/runs", label: "Runs" },
  { to: "/inbox", label: "Inbox" },
  { to: "/agents", label: "Agents" },
] as const;

const linkClass = ({ isActive }: { isActive: boolean }) => (isActive ? "nav-link nav-link--active" : "nav-link");

/** NavLink sets aria-current="page" on the active section. Admin is a server page, not a route. */
export const PrimaryNav = memo(function PrimaryNav({ adminUrl }: { adminUrl: string | null }) {
  return (
    <nav className="primary-nav" aria-label="Main">
      <ul>
        {SECTIONS.map((section) => (
          <li key={section.to}>
            <NavLink to={section.to} className={linkClass}>
              {section.label}
            </NavLink>
          </li>
        ))}
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
