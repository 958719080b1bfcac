/** External agents (any language, over the agent protocol): what they can do and whether they are alive. */
import { useState } from "react";

import { revokeExternalAgent, type ExternalAgent } from "../../api/agents";
import { formatDateTime, formatRelativeTime } from "../../lib/format";
import { asApiError } from "./shared";

function Liveness({ agent }: { agent: ExternalAgent }) {
  const [label, className] = agent.revoked_at ? ["revoked", "badge badge--muted"] : agent.is_alive ? ["alive", "badge badge--success"] : ["not responding", "badge agents-badge--down"];
  return (
    <span className={className} data-testid={`external-liveness-${agent.id}`} data-alive={agent.is_alive}>
      {label}
    </span>
  );
}

export function ExternalAgentsSection({ agents, onChanged }: { agents: ExternalAgent[]; onChanged: () => void }) {
  const [error, setError] = useState<string | null>(null);
  const revoke = async (agent: ExternalAgent) => {
    if (!window.confirm(`Revoke “${agent.name}”? Its token stops working and its tasks are offered to others.`)) return;
    try {
      await revokeExternalAgent(agent.id);
      setError(null);
      onChanged();
    } catch (caught) {
      setError(asApiError(caught).detail);
    }
  };
  return (
    <section aria-labelledby="external-title" className="agents-section" data-testid="external-agents-section">
      <div className="agents-section__header">
        <h2 id="external-title">External agents</h2>
      </div>
      <p className="muted">
        Programs that register with a token, heartbeat, and claim <code>agent_task</code> work for their capabilities (see the API documentation). Liveness refreshes by itself.
      </p>
      {error && <p className="notice notice--error">{error}</p>}
      {agents.length === 0 ? (
        <p className="empty-state">No external agents have registered.</p>
      ) : (
        <table className="run-table" data-testid="external-agents-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Capabilities</th>
              <th>Version</th>
              <th>Registered by</th>
              <th>Last heartbeat</th>
              <th>Status</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {agents.map((agent) => (
              <tr key={agent.id} data-testid={`external-row-${agent.id}`}>
                <td>{agent.name}</td>
                <td>
                  {agent.capabilities.map((capability) => (
                    <code key={capability} className="tag">
                      {capability}
                    </code>
                  ))}
                </td>
                <td>{agent.version || <span className="muted">—</span>}</td>
                <td>{agent.registered_by}</td>
                <td title={agent.last_heartbeat_at ? formatDateTime(agent.last_heartbeat_at) : undefined}>{agent.last_heartbeat_at ? formatRelativeTime(agent.last_heartbeat_at) : "never"}</td>
                <td>
                  <Liveness agent={agent} />
                </td>
                <td>
                  {!agent.revoked_at && (
                    <button type="button" className="button button--small button--quiet" onClick={() => void revoke(agent)} data-testid={`external-revoke-${agent.id}`}>
                      Revoke
                    </button>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}
