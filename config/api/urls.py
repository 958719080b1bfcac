from django.urls import include, path
from rest_framework.routers import SimpleRouter

from accounts.api.views import ApiTokenViewSet, CurrentUserView, TokenIssueView
from agents.api import external as agent_api
from agents.api.catalog import AgentViewSet, ProviderViewSet
from executions.api.approvals import ApprovalViewSet
from executions.api.views import RunViewSet, StartRunView
from integrations.api import CredentialViewSet
from workflows.api.views import NodeTypesView, WorkflowViewSet

router = SimpleRouter()
router.register("auth/tokens", ApiTokenViewSet, basename="api-token")
router.register("workflows", WorkflowViewSet, basename="workflow")
router.register("runs", RunViewSet, basename="run")
router.register("approvals", ApprovalViewSet, basename="approval")
router.register("external-agents", agent_api.ExternalAgentViewSet, basename="external-agent")
router.register("providers", ProviderViewSet, basename="provider")
router.register("agents", AgentViewSet, basename="agent")
router.register("credentials", CredentialViewSet, basename="credential")

urlpatterns = [
    path("auth/token/", TokenIssueView.as_view(), name="api-token-issue"),
    path("auth/me/", CurrentUserView.as_view(), name="api-me"),
    path("node-types/", NodeTypesView.as_view(), name="node-types"),
    path("workflows/<int:pk>/runs/", StartRunView.as_view(), name="workflow-runs"),
    path("workflows/<int:workflow_pk>/triggers/", include("triggers.api.urls")),
    path("external-agents/heartbeat/", agent_api.HeartbeatView.as_view(), name="agent-heartbeat"),
    path("agent-tasks/claim/", agent_api.ClaimTaskView.as_view(), name="agent-claim"),
    path("agent-tasks/<str:task_id>/complete/", agent_api.CompleteTaskView.as_view(), name="agent-complete"),
    path("agent-tasks/<str:task_id>/fail/", agent_api.FailTaskView.as_view(), name="agent-fail"),
    path("agent-tasks/<str:task_id>/extend/", agent_api.ExtendTaskView.as_view(), name="agent-extend"),
    path("", include("ops.urls")),
    path("", include(router.urls)),
]
