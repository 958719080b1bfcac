/**
 * One approval: where it comes from, when it is due, the instructions, exactly the payload that
 * flows on, and — when I may decide — claim/release, the node's form, a comment, approve/reject.
 */
import { useEffect, useState } from "react";
import { Link } from "react-router";

import { ApiError } from "../../api";
import { claimApproval, decideApproval, releaseApproval, type Approval } from "../../api/approvals";
import { formatDateTime, formatRelativeTime } from "../../lib/format";
import { canDecideNow, useInbox } from "./inboxStore";
import { formData, initialValues, SchemaForm, type FormValues } from "./SchemaForm";

function DueTime({ dueAt }: { dueAt: string | null }) {
  if (!dueAt) return <span className="muted">No due date</span>;
  const isOverdue = Date.parse(dueAt) < Date.now();
  return (
    <span className={isOverdue ? "inbox-due inbox-due--overdue" : "inbox-due"} title={formatDateTime(dueAt)} data-testid="approval-due">
      {isOverdue ? "Overdue since" : "Due"} {formatRelativeTime(dueAt)} ({formatDateTime(dueAt)})
    </span>
  );
}

export { DueTime };

export function ApprovalDetail({ approval, onChanged }: { approval: Approval; onChanged: () => void }) {
  const me = useInbox((state) => state.me);
  const applyOwn = useInbox((state) => state.applyOwn);
  const formKey = JSON.stringify(approval.form);
  const [values, setValues] = useState<FormValues>(() => initialValues(approval.form));
  const [problems, setProblems] = useState<Record<string, string>>({});
  const [comment, setComment] = useState("");
  const [busy, setBusy] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [done, setDone] = useState<string | null>(null);

  useEffect(() => {
    setValues(initialValues(approval.form));
    setProblems({});
    setComment("");
    setError(null);
    setDone(null);
    // Only a different approval (or form) starts over; a refreshed copy keeps what was typed.
  }, [approval.id, formKey]);

  const isPending = approval.status === "pending";
  const mayDecide = canDecideNow(approval, me);
  const canClaim = isPending && approval.required_approvals === 1;
  const hasForm = Boolean(approval.form && Object.keys(approval.form.properties ?? {}).length > 0);

  const act = async (name: string, action: () => Promise<Approval>, message: string) => {
    setBusy(name);
    setError(null);
    try {
      const updated = await action();
      applyOwn(updated);
      setDone(message);
    } catch (caught) {
      if (caught instanceof ApiError) {
        setError(caught.isConflict && caught.detail === "claimed" ? "Someone else has claimed this approval." : caught.detail);
      } else setError("That did not work.");
    } finally {
      setBusy(null);
      onChanged();
    }
  };

  const decide = (decision: "approve" | "reject") => {
    const parsed = formData(approval.form, values);
    setProblems(parsed.problems);
    if (decision === "approve" && Object.keys(parsed.problems).length > 0) return;
    const data = hasForm ? parsed.data : null;
    void act(decision, () => decideApproval(approval.id, { decision, comment, data }), decision === "approve" ? "Approved." : "Rejected.");
  };

  return (
    <article className="inbox-detail" aria-labelledby="approval-title" data-testid="approval-detail" data-approval-id={approval.id} data-status={approval.status}>
      <header>
        <p className="muted inbox-detail__source">
          {approval.workflow_name} ·{" "}
          <Link to={`/runs/${approval.run}`} data-testid="approval-run-link">
            run {approval.run.slice(0, 8)}
          </Link>{" "}
          · node <code>{approval.node_id}</code>
          {approval.scope && ` (${approval.scope})`}
        </p>
        <h2 id="approval-title">{approval.title || "Approval"}</h2>
        <p>
          <span className={`run-status run-status--${approval.status}`}>{approval.status}</span> {isPending && <DueTime dueAt={approval.due_at} />}
          {approval.escalated && <span className="badge"> escalated</span>}
        </p>
      </header>
      {approval.instructions && (
        <section>
          <h3>Instructions</h3>
          <p className="inbox-instructions" data-testid="approval-instructions">
            {approval.instructions}
          </p>
        </section>
      )}
      <section>
        <h3>What flows on</h3>
        <p className="muted">The payload exactly as the next node receives it{approval.payload_hash ? ` (hash ${approval.payload_hash.slice(0, 12)})` : ""}.</p>
        <pre className="fd-code run-json" data-testid="approval-payload">
          {JSON.stringify(approval.payload, null, 2)}
        </pre>
      </section>
      <section className="inbox-facts">
        <p className="muted">
          Assigned to {[...approval.assignees.users, ...approval.assignees.groups.map((group) => `group ${group}`)].join(", ") || "nobody"}
          {approval.required_approvals > 1 && ` · needs ${approval.required_approvals} approvals (${approval.decisions.filter((item) => item.decision === "approved").length} so far)`}
          {approval.claimed_by && ` · claimed by ${approval.claimed_by === me ? "you" : approval.claimed_by}`}
        </p>
        {approval.decisions.length > 0 && (
          <ul className="inbox-decisions">
            {approval.decisions.map((item) => (
              <li key={`${item.user}-${item.at}`}>
                <strong>{item.user}</strong> {item.decision} {item.at && formatRelativeTime(item.at)}
                {item.comment && <>: “{item.comment}”</>}
              </li>
            ))}
          </ul>
        )}
        {!isPending && (
          <p data-testid="approval-outcome">
            {approval.timed_out ? "Timed out" : `Decided by ${approval.decided_by ?? "—"}`}
            {approval.decided_at && ` ${formatDateTime(approval.decided_at)}`}
            {approval.comment && <> — “{approval.comment}”</>}
          </p>
        )}
        {!isPending && approval.data !== null && (
          <pre className="fd-code run-json" data-testid="approval-data">
            {JSON.stringify(approval.data, null, 2)}
          </pre>
        )}
      </section>
      {done && (
        <p className="notice notice--success" role="status" data-testid="approval-done">
          {done}
        </p>
      )}
      {error && (
        <p className="notice notice--error" role="alert" data-testid="approval-error">
          {error}
        </p>
      )}
      {isPending && (
        <form
          className="form inbox-decide"
          onSubmit={(event) => {
            event.preventDefault();
            decide("approve");
          }}
        >
          {canClaim && (
            <div className="inbox-claim">
              {approval.claimed_by === me ? (
                <button type="button" className="button button--quiet" disabled={busy !== null} onClick={() => void act("release", () => releaseApproval(approval.id), "Released for others.")} data-testid="approval-release">
                  Release
                </button>
              ) : (
                !approval.claimed_by && (
                  <button type="button" className="button button--quiet" disabled={busy !== null} onClick={() => void act("claim", () => claimApproval(approval.id), "Claimed: others cannot decide while you hold it.")} data-testid="approval-claim">
                    Claim
                  </button>
                )
              )}
            </div>
          )}
          {hasForm && approval.form && <SchemaForm schema={approval.form} values={values} problems={problems} onChange={setValues} disabled={!mayDecide} />}
          <div className="form-field">
            <label htmlFor={`comment-${approval.id}`}>Comment</label>
            <textarea id={`comment-${approval.id}`} className="input" rows={3} value={comment} disabled={!mayDecide} onChange={(event) => setComment(event.target.value)} data-testid="approval-comment" />
          </div>
          {!mayDecide && <p className="muted">You cannot decide this one now{approval.claimed_by && approval.claimed_by !== me ? `: ${approval.claimed_by} holds it` : ""}.</p>}
          <div className="form__actions">
            <button type="submit" className="button button--primary" disabled={!mayDecide || busy !== null} data-testid="approval-approve">
              {busy === "approve" ? "Approving…" : "Approve"}
            </button>
            <button type="button" className="button" disabled={!mayDecide || busy !== null} onClick={() => decide("reject")} data-testid="approval-reject">
              {busy === "reject" ? "Rejecting…" : "Reject"}
            </button>
          </div>
        </form>
      )}
    </article>
  );
}
