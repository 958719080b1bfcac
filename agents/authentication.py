"""`Authorization: Bearer fda_…`: external agents' own tokens, for the agent routes only.

An agent token is not a user token: it authenticates nothing but the agent protocol (heartbeat,
claim, extend, complete, fail), and user tokens are refused there. Tokens are stored as SHA-256
hashes; a revoked agent, or one whose registering user was deactivated, gets 401.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions
from rest_framework.request import Request

from accounts.authentication import parse_bearer_header

from .models import AGENT_TOKEN_PREFIX, ExternalAgent, hash_agent_token


class AgentPrincipal:
    """``request.user`` on the agent routes: authenticated, but no user and no user permissions."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None

    def __init__(self, agent: ExternalAgent) -> None:
        self.agent = agent

    def __str__(self) -> str:
        return f"agent {self.agent.name} ({self.agent.pk})"

    def get_username(self) -> str:
        return f"agent:{self.agent.pk}"

    def has_perm(self, perm: str, obj: Any = None) -> bool:
        return False


class AgentTokenAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request: Request) -> tuple[AgentPrincipal, ExternalAgent] | None:
        raw = parse_bearer_header(request.META.get("HTTP_AUTHORIZATION"))
        if raw is None:
            return None
        if not raw.startswith(AGENT_TOKEN_PREFIX) or " " in raw:
            raise exceptions.AuthenticationFailed(
                "Not an agent token: register the agent at /api/external-agents/register/ and use "
                "the token it returns."
            )
        agent = (
            ExternalAgent.objects.select_related("registered_by")
            .filter(token_hash=hash_agent_token(raw))
            .first()
        )
        if agent is None:
            raise exceptions.AuthenticationFailed("Invalid agent token.")
        if agent.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This agent has been revoked.")
        if not agent.registered_by.is_active:
            raise exceptions.AuthenticationFailed("The user who registered this agent is inactive.")
        return AgentPrincipal(agent), agent

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="agents"'


class IsExternalAgent(permissions.BasePermission):
    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.auth, ExternalAgent)


def agent_of(request: Request) -> ExternalAgent:
    agent = request.auth
    if not isinstance(agent, ExternalAgent):  # IsExternalAgent guards every agent route
        raise exceptions.NotAuthenticated()
    return agent


class AgentTokenScheme(OpenApiAuthenticationExtension):  # type: ignore[no-untyped-call]
    target_class = "agents.authentication.AgentTokenAuthentication"
    name = "agentToken"

    def get_security_definition(self, auto_schema: Any) -> dict[str, str]:
        return {
            "type": "http",
            "scheme": "bearer",
            "description": "An external agent's token (`fda_…`), returned once by "
            "`POST /api/external-agents/register/`.",
        }
