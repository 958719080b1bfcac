"""Sharing by owner and group grants, one rule set for every shared object (workflows, providers,
agents): each has an `owner` and `grants` (group, role), with roles viewer < runner < editor <
owner. A user who cannot see an object gets "not found"; one who can see it but lacks the role
for the action gets "permission denied".
"""

from __future__ import annotations

from typing import Any, TypeVar

from django.core.exceptions import PermissionDenied
from django.db.models import Model, Q, QuerySet
from django.http import Http404

from workflows.choices import OWNER, ROLE_RANK

SharedModel = TypeVar("SharedModel", bound=Model)


def group_ids(user: Any) -> set[int]:
    """The user's group ids, computed once per user object (one request, one socket)."""
    cached: set[int] | None = getattr(user, "_flowdeck_group_ids", None)
    if cached is None:
        cached = set(user.groups.values_list("id", flat=True))
        user._flowdeck_group_ids = cached
    return cached


def visible_to(user: Any, queryset: QuerySet[SharedModel]) -> QuerySet[SharedModel]:
    if not user.is_authenticated or not user.is_active:
        return queryset.none()
    if user.is_superuser:
        return queryset
    shared = queryset.model._default_manager.filter(grants__group_id__in=group_ids(user)).values("pk")
    return queryset.filter(Q(owner_id=user.pk) | Q(pk__in=shared))


def role_of(user: Any, shared: Any) -> str | None:
    """The user's highest role on the object: "owner", a grant role, or None."""
    if not user.is_authenticated or not user.is_active:
        return None
    if user.is_superuser or shared.owner_id == user.pk:
        return OWNER
    groups = group_ids(user)
    best: str | None = None
    for grant in shared.grants.all():  # prefetched on lists
        if grant.group_id in groups and (best is None or ROLE_RANK[grant.role] > ROLE_RANK[best]):
            best = grant.role
    return best


def has_role(user: Any, shared: Any, minimum: str) -> bool:
    role = role_of(user, shared)
    return role is not None and ROLE_RANK[role] >= ROLE_RANK[minimum]


def get_shared_for(
    user: Any, queryset: QuerySet[SharedModel], pk: Any, minimum_role: str, noun: str
) -> SharedModel:
    """The object if ``user`` holds at least ``minimum_role`` on it (404 if unseen, 403 if too low)."""
    try:
        wanted = int(pk)
    except (TypeError, ValueError):
        raise Http404(f"No such {noun}.") from None
    found = visible_to(user, queryset.prefetch_related("grants")).filter(pk=wanted).first()
    if found is None:
        raise Http404(f"No such {noun}.")
    if not has_role(user, found, minimum_role):
        raise PermissionDenied(f"This needs the {minimum_role} role on the {noun}.")
    return found
