import "./runs/runs.css";
import "./agents/agents.css";

import { useCallback, useEffect, useState } from "react";

import type { ApiError } from "../api";
import { listAgents, listExternalAgents, listProviders, type Agent, type ExternalAgent, type Provider } from "../api/agents";
import { ApiErrorNotice } from "../components/ApiErrorNotice";
import { PageHeader } from "../components/PageHeader";
import { useDocumentTitle } from "../hooks/useDocumentTitle";
import { AgentsSection } from "./agents/AgentsSection";
import { ExternalAgentsSection } from "./agents/ExternalAgentsSection";
import { ProvidersSection } from "./agents/ProvidersSection";
import { asApiError } from "./agents/shared";

/** How often external agents' liveness is asked again while the page is open. */
const LIVENESS_REFRESH_MS = 10_000;

export default function AgentsPage() {
  useDocumentTitle("Agents");
  const [providers, setProviders] = useState<Provider[]>([]);
  const [agents, setAgents] = useState<Agent[]>([]);
  const [externalAgents, setExternalAgents] = useState<ExternalAgent[]>([]);
  const [error, setError] = useState<ApiError | null>(null);
  const [isLoaded, setLoaded] = useState(false);

  const loadExternal = useCallback(async () => {
    try {
      setExternalAgents((await listExternalAgents()).results);
    } catch (caught) {
      setError(asApiError(caught));
    }
  }, []);

  const load = useCallback(async () => {
    try {
      const [providerPage, agentPage] = await Promise.all([listProviders(), listAgents()]);
      setProviders(providerPage.results);
      setAgents(agentPage.results);
      setError(null);
    } catch (caught) {
      setError(asApiError(caught));
    } finally {
      setLoaded(true);
    }
    await loadExternal();
  }, [loadExternal]);

  useEffect(() => {
    void load();
    const timer = setInterval(() => void loadExternal(), LIVENESS_REFRESH_MS);
    return () => clearInterval(timer);
  }, [load, loadExternal]);

  return (
    <section aria-labelledby="page-title" className="page agents-page" data-testid="agents-page" data-loaded={isLoaded}>
      <PageHeader title="Agents" description="The LLM providers and agents prompt nodes use, and the external agents that take agent tasks." />
      {error && <ApiErrorNotice error={error} title="Some of this could not be loaded" onRetry={() => void load()} />}
      <ProvidersSection providers={providers} onChanged={() => void load()} />
      <AgentsSection agents={agents} providers={providers} onChanged={() => void load()} />
      <ExternalAgentsSection agents={externalAgents} onChanged={() => void loadExternal()} />
    </section>
  );
}
