import "./templates.css";

import { useEffect, useState } from "react";
import { Link, useNavigate } from "react-router";

import type { ApiError } from "../../api";
import { listTemplates, useTemplate as createFromTemplate, type TemplateSummary, type UsedTemplate } from "../../api/templates";
import { ApiErrorNotice } from "../../components/ApiErrorNotice";
import { PageHeader } from "../../components/PageHeader";
import { useDocumentTitle } from "../../hooks/useDocumentTitle";
import { paragraphs } from "./documentation";

function Documentation({ text }: { text: string }) {
  return (
    <div className="template-card__docs">
      {paragraphs(text).map((pieces, index) => (
        <p key={index}>{pieces.map((piece, at) => (piece.kind === "code" ? <code key={at}>{piece.text}</code> : <span key={at}>{piece.text}</span>))}</p>
      ))}
    </div>
  );
}

function TemplateCard({ template, onUse, isBusy }: { template: TemplateSummary; onUse: () => void; isBusy: boolean }) {
  const [isOpen, setOpen] = useState(false);
  return (
    <article className="template-card" data-testid={`template-${template.slug}`}>
      <header>
        <h2>{template.title}</h2>
        <span className="template-card__category">{template.category}</span>
      </header>
      <p>{template.summary}</p>
      <p className="template-card__meta">
        {template.node_count} nodes · {template.node_types.join(", ")}
        {template.trigger && ` · ${template.trigger.kind} trigger (created disabled)`}
      </p>
      <button type="button" className="button button--quiet button--small" aria-expanded={isOpen} onClick={() => setOpen(!isOpen)}>
        {isOpen ? "Hide details" : "How it works"}
      </button>
      {isOpen && <Documentation text={template.documentation} />}
      <div className="template-card__actions">
        <button type="button" className="button button--primary" onClick={onUse} disabled={isBusy} aria-busy={isBusy}>
          Use template
        </button>
      </div>
    </article>
  );
}

/** The templates gallery: each card creates a published workflow of yours and opens it. */
export default function TemplatesPage() {
  useDocumentTitle("Templates");
  const navigate = useNavigate();
  const [templates, setTemplates] = useState<TemplateSummary[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busySlug, setBusySlug] = useState<string | null>(null);
  const [created, setCreated] = useState<UsedTemplate | null>(null);

  useEffect(() => {
    const controller = new AbortController();
    listTemplates(controller.signal)
      .then((page) => setTemplates(page.results))
      .catch((caught: unknown) => {
        if (!controller.signal.aborted) setError(caught as ApiError);
      });
    return () => controller.abort();
  }, []);

  const use = async (template: TemplateSummary) => {
    setBusySlug(template.slug);
    setError(null);
    try {
      const used = await createFromTemplate(template.slug);
      if (used.trigger?.secret) setCreated(used);
      else navigate(`/workflows/${used.workflow.id}`);
    } catch (caught) {
      setError(caught as ApiError);
    } finally {
      setBusySlug(null);
    }
  };

  return (
    <section aria-labelledby="page-title" className="page templates-page" data-testid="templates-page" data-loaded={templates !== null}>
      <PageHeader title="Templates" description="Documented starting points that run offline on scripted agents. Each creates a workflow of your own.">
        <Link to="/workflows" className="button">
          Back to workflows
        </Link>
      </PageHeader>
      {error && <ApiErrorNotice error={error} title="That did not work" />}
      {created?.trigger && (
        <div className="template-created" role="status" data-testid="template-created">
          <p>
            Created <strong>{created.workflow.name}</strong> with a disabled {created.trigger.kind} trigger. Its signing secret is shown only now:
          </p>
          <p>
            <code>{created.trigger.secret}</code>
          </p>
          {created.trigger.url && (
            <p>
              Deliveries go to <code>{created.trigger.url}</code>
            </p>
          )}
          <button type="button" className="button button--primary" onClick={() => navigate(`/workflows/${created.workflow.id}`)}>
            Open the workflow
          </button>
        </div>
      )}
      <div className="templates-grid">
        {templates?.map((template) => (
          <TemplateCard key={template.slug} template={template} onUse={() => void use(template)} isBusy={busySlug === template.slug} />
        ))}
      </div>
    </section>
  );
}
