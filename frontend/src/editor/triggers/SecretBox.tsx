import { useState } from "react";

import { signingExample } from "./signing";

export interface RevealedSecret {
  triggerId: number;
  secret: string;
  url: string | null;
  reason: "created" | "rotated";
}

function CopyButton({ value, label, testId }: { value: string; label: string; testId: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <button
      type="button"
      className="button button--quiet fd-small"
      data-testid={testId}
      onClick={() => {
        void navigator.clipboard?.writeText(value).then(
          () => setCopied(true),
          () => setCopied(false),
        );
      }}
    >
      {copied ? "Copied" : label}
    </button>
  );
}

/**
 * A webhook secret, shown once: the server never sends it again, and this box lives only in the
 * panel's state, so dismissing it (or leaving the tab) is the end of it.
 */
export function SecretBox({ revealed, onDismiss }: { revealed: RevealedSecret; onDismiss: () => void }) {
  return (
    <section className="fd-trigger-secret" role="alert" aria-label="Webhook secret" data-testid="trigger-secret-box" data-trigger-id={revealed.triggerId}>
      <p className="fd-trigger-secret__title">{revealed.reason === "created" ? "Webhook created. Its signing secret:" : "New signing secret:"}</p>
      <div className="fd-trigger-secret__value">
        <code data-testid="trigger-secret">{revealed.secret}</code>
        <CopyButton value={revealed.secret} label="Copy" testId="trigger-secret-copy" />
      </div>
      <p className="fd-trigger-secret__warning" data-testid="trigger-secret-warning">
        Copy it now: you won’t see this secret again. If it is lost, rotate the secret to get a new one.
      </p>
      {revealed.reason === "rotated" && <p className="fd-field__help">The previous secret keeps working until the grace period ends; senders may send both signatures meanwhile.</p>}
      {revealed.url && (
        <details className="fd-trigger-secret__example">
          <summary>Sign a request (curl and openssl)</summary>
          <p className="fd-field__help">
            Send <code>X-Flowdeck-Signature: t=&lt;unix time&gt;,v1=&lt;hex HMAC-SHA256 of “t.raw body”&gt;</code>, within 300 seconds of the server’s clock. An
            <code> Idempotency-Key</code> header makes repeats answer the first run.
          </p>
          <pre className="fd-code" data-testid="trigger-signing-example">
            {signingExample(revealed.url, revealed.secret)}
          </pre>
        </details>
      )}
      <button type="button" className="button fd-small" onClick={onDismiss} data-testid="trigger-secret-dismiss">
        I have stored it
      </button>
    </section>
  );
}
