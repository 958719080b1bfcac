import { useDocumentTitle } from "../hooks/useDocumentTitle";
import { PageHeader } from "./PageHeader";

/** An honest placeholder for a section that is planned but not built yet. */
export function ComingSoon({ title, summary }: { title: string; summary: string }) {
  useDocumentTitle(title);
  return (
    <section aria-labelledby="page-title" className="page">
      <PageHeader title={title} />
      <div className="empty-state">
        <p>{summary}</p>
      </div>
    </section>
  );
}
