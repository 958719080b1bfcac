import { Link } from "react-router";

import { PageHeader } from "../components/PageHeader";
import { useDocumentTitle } from "../hooks/useDocumentTitle";

export default function NotFoundPage() {
  useDocumentTitle("Page not found");
  return (
    <section aria-labelledby="page-title" className="page">
      <PageHeader title="Page not found" />
      <div className="empty-state">
        <p>There is nothing at this address. It may have moved, or the link may be mistyped.</p>
        <p>
          <Link to="/workflows">Go to your workflows</Link>
        </p>
      </div>
    </section>
  );
}
