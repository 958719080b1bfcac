"""The egress allowlist as admins manage it (rows + the FLOWDECK_EGRESS_ALLOW setting), and the
credential admin keeping secrets write-only."""

from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from integrations.egress import current_policy
from integrations.models import Credential, EgressAllow

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client: Any, django_user_model: Any) -> Any:
    admin = django_user_model.objects.create_superuser("root", "root@example.com", "pw-root")
    client.force_login(admin)
    return client


def test_the_policy_joins_the_setting_and_the_enabled_rows(settings: Any) -> None:
    settings.FLOWDECK_EGRESS_ALLOW = ["api.internal", "10.9.0.0/16"]
    EgressAllow.objects.create(host="*.svc.corp")
    EgressAllow.objects.create(host="192.168.7.7", enabled=False)

    policy = current_policy()

    assert policy.names == frozenset({"api.internal"})
    assert policy.domains == (".svc.corp",)
    assert policy.networks == (ipaddress.ip_network("10.9.0.0/16"),)


@pytest.mark.parametrize("host", ["*", "0.0.0.0/0", "::/0", "http://x.example/", "two words"])
def test_rows_that_allow_everything_or_nothing_do_not_validate(host: str) -> None:
    with pytest.raises(ValidationError) as caught:
        EgressAllow(host=host).full_clean()

    assert "host" in caught.value.message_dict


def test_the_admin_refuses_a_bad_row_and_saves_a_good_one(admin_client: Any) -> None:
    refused = admin_client.post(
        "/admin/integrations/egressallow/add/", {"host": "*", "note": "", "enabled": "on"}
    )
    saved = admin_client.post(
        "/admin/integrations/egressallow/add/",
        {"host": "Billing.Internal", "note": "billing", "enabled": "on"},
    )

    assert refused.status_code == 200 and b"would allow everything" in refused.content
    assert saved.status_code == 302
    assert list(EgressAllow.objects.values_list("host", flat=True)) == ["billing.internal"]
    assert admin_client.get("/admin/integrations/egressallow/").status_code == 200


def test_the_credential_admin_never_shows_the_secret(admin_client: Any, django_user_model: Any) -> None:
    owner = django_user_model.objects.get(username="root")
    added = admin_client.post(
        "/admin/integrations/credential/add/",
        {
            "name": "crm",
            "kind": "bearer",
            "owner": owner.pk,
            "secret": "admin-secret-value-123",
            "grants-TOTAL_FORMS": "0",
            "grants-INITIAL_FORMS": "0",
        },
    )
    credential = Credential.objects.get(name="crm")

    assert added.status_code == 302
    assert credential.secret() == "admin-secret-value-123"
    page = admin_client.get(f"/admin/integrations/credential/{credential.pk}/change/")
    listing = admin_client.get("/admin/integrations/credential/")
    assert page.status_code == 200 and listing.status_code == 200
    assert b"admin-secret-value-123" not in page.content + listing.content
    assert credential.secret_ciphertext.encode() not in page.content
