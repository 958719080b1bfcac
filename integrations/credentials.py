"""Using a credential at run time: which one a node means, and whether the run may use it.

Decision: a run may use a credential when the user who started it (``Run.created_by``; for trigger
runs the trigger's owner, for sub-workflow runs the parent's starter) holds the **runner** role on
it — the same role that lets someone start a workflow's runs or build an agent on a provider.
``viewer`` only shows that the credential exists (its name, kind and non-secret fields), so a
designer can pick it in the editor without being able to spend it. The check happens on the worker,
for every attempt, so revoking a grant stops the next request.
"""

from __future__ import annotations

from typing import Any

from accounts.sharing import has_role
from agents.crypto import SecretUnreadable
from workflows.choices import Role

from .models import Credential

#: The role a run's starter needs on a credential for the run to use it.
USE_ROLE = Role.RUNNER


class CredentialUnavailable(Exception):
    """The node's credential cannot be used; never retryable (the same answer comes again)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def find_credential(reference: Any) -> Credential | None:
    """A credential by id (an integer, or digits) or by name."""
    if isinstance(reference, bool):
        return None
    if isinstance(reference, int) or (isinstance(reference, str) and reference.strip().isdigit()):
        found = Credential.objects.filter(pk=int(reference)).first()
        if found is not None or isinstance(reference, int):
            return found
    if isinstance(reference, str) and reference.strip():
        return Credential.objects.filter(name=reference.strip()).first()
    return None


def credential_for_run(reference: Any, starter: Any) -> Credential:
    """The credential a node names, if the run's starter may use it (USE_ROLE)."""
    credential = find_credential(reference)
    shown = f"{reference!r}"
    if credential is None:
        raise CredentialUnavailable("unknown_credential", f"There is no credential {shown}.")
    if starter is None or not has_role(starter, credential, USE_ROLE):
        who = f"{starter.get_username()!r}" if starter is not None else "nobody (the run has no starter)"
        raise CredentialUnavailable(
            "credential_forbidden",
            f"The run was started by {who}, who needs the {USE_ROLE} role on credential "
            f"{credential.name!r} to use it.",
        )
    if not credential.has_secret:
        raise CredentialUnavailable("bad_credentials", f"Credential {credential.name!r} has no secret set.")
    try:
        credential.secret()
    except SecretUnreadable:
        raise CredentialUnavailable(
            "bad_credentials",
            f"Credential {credential.name!r} cannot be decrypted with the current key; "
            "enter its secret again.",
        ) from None
    return credential
