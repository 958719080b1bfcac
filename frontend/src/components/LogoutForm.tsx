import { memo, useRef } from "react";

import { readCsrfToken } from "../lib/cookies";

/**
 * Django's LogoutView only accepts POST. A real form (not fetch) lets the server's redirect after
 * logout take over the whole page. The token is read at submit time: it rotates on login.
 */
export const LogoutForm = memo(function LogoutForm({ action }: { action: string }) {
  const tokenInput = useRef<HTMLInputElement>(null);
  const refreshToken = () => {
    if (tokenInput.current) tokenInput.current.value = readCsrfToken() ?? "";
  };
  return (
    <form method="post" action={action} className="logout-form" onSubmit={refreshToken}>
      <input ref={tokenInput} type="hidden" name="csrfmiddlewaretoken" defaultValue={readCsrfToken() ?? ""} />
      <button type="submit" className="button button--quiet">
        Log out
      </button>
    </form>
  );
});
