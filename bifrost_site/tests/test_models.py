"""Model constraints of DESIGN §5 and encryption at rest, checked against PostgreSQL itself."""

import pytest
from django.db import IntegrityError, connection, transaction

from accounts.models import User, UserType
from accounts.tests.factories import PlatformAdminFactory, RoleFactory, UserFactory
from audit.tests.factories import AuditLogFactory
from oauth_app.tests.factories import OAuthConnectionFactory, OAuthTokenFactory
from orgs.tests.factories import ConfigFactory, OrganizationFactory
from secrets_app.models import Secret
from secrets_app.tests.factories import SecretFactory
from workflows.tests.factories import WorkflowFactory

pytestmark = pytest.mark.django_db


def raw(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_secret_value_is_encrypted_at_rest_and_readable_through_the_model():
    secret = SecretFactory(value="hunter2-super-secret")
    (stored,) = raw("SELECT value FROM secrets_app_secret WHERE id = %s", [secret.id])[0]
    assert "hunter2" not in stored
    assert stored.startswith("gAAAAA")
    assert Secret.objects.get(id=secret.id).value == "hunter2-super-secret"


def test_oauth_client_secret_and_tokens_are_encrypted_at_rest():
    token = OAuthTokenFactory(access_token="plain-access-abc", refresh_token="plain-refresh-def")
    conn = token.connection
    (client_secret,) = raw("SELECT client_secret FROM oauth_app_oauthconnection WHERE id = %s", [conn.id])[0]
    access, refresh = raw("SELECT access_token, refresh_token FROM oauth_app_oauthtoken WHERE id = %s", [token.id])[0]
    assert "client-secret-value" not in client_secret
    assert "plain-access" not in access and "plain-refresh" not in refresh
    token.refresh_from_db()
    assert token.access_token == "plain-access-abc"


def test_value_encrypted_with_a_dropped_key_is_reported_not_crashing(settings):
    from bifrost_site.crypto import UndecryptableValue

    secret = SecretFactory(value="will-be-orphaned")
    settings.ENCRYPTION_KEYS = ["hTBWz1Ky1bY0fyvTCvpmm_t1Ljx-mCJxu2P8ws8xZQE="]
    loaded = list(Secret.objects.filter(id=secret.id))
    assert isinstance(loaded[0].value, UndecryptableValue)


def test_old_keys_still_decrypt_after_adding_a_new_first_key(settings):
    secret = SecretFactory(value="rotating")
    settings.ENCRYPTION_KEYS = ["hTBWz1Ky1bY0fyvTCvpmm_t1Ljx-mCJxu2P8ws8xZQE=", *settings.ENCRYPTION_KEYS]
    assert Secret.objects.get(id=secret.id).value == "rotating"


@pytest.mark.parametrize(
    "make",
    [
        lambda org: ConfigFactory(organization=org, key="k"),
        lambda org: SecretFactory(organization=org, name="n"),
        lambda org: RoleFactory(organization=org, name="r"),
        lambda org: OAuthConnectionFactory(organization=org, name="c"),
    ],
    ids=["config", "secret", "role", "oauth"],
)
@pytest.mark.parametrize("scope", ["org", "global"])
def test_unique_per_scope_treats_global_as_one_value(make, scope):
    org = OrganizationFactory() if scope == "org" else None
    make(org)
    with pytest.raises(IntegrityError), transaction.atomic():
        make(org)


def test_same_key_may_exist_globally_and_per_org():
    org = OrganizationFactory()
    ConfigFactory(organization=None, key="tenant_id")
    ConfigFactory(organization=org, key="tenant_id")


def test_org_user_requires_an_organization_and_admin_must_not_have_one():
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="x@example.test", user_type=UserType.ORG, organization=None)
    org = OrganizationFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="y@example.test", user_type=UserType.PLATFORM, organization=org)
    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create(email="z@example.test", user_type=UserType.ORG, organization=org, is_platform_admin=True)


def test_platform_admin_is_django_staff_and_superuser():
    admin = PlatformAdminFactory()
    assert admin.is_staff and admin.is_superuser
    member = UserFactory()
    assert not member.is_staff and not member.is_superuser


def test_workflow_timeout_and_name_constraints():
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkflowFactory(timeout_seconds=7201)
    with pytest.raises(IntegrityError), transaction.atomic():
        WorkflowFactory(name="Bad-Name")


def test_organization_domain_must_be_lowercase_and_unique():
    OrganizationFactory(domain="contoso.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        OrganizationFactory(domain="contoso.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        OrganizationFactory(domain="Fabrikam.com")


def test_config_key_format_is_enforced_by_the_database():
    with pytest.raises(IntegrityError), transaction.atomic():
        ConfigFactory(key="not valid!")


def test_audit_log_is_append_only_in_the_database():
    entry = AuditLogFactory()
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        raw("UPDATE audit_auditlog SET action = 'tampered' WHERE id = %s", [entry.id])
    with pytest.raises(Exception, match="append-only"), transaction.atomic():
        raw("DELETE FROM audit_auditlog WHERE id = %s", [entry.id])
    with pytest.raises(TypeError):
        entry.delete()


def test_deleting_a_user_keeps_their_audit_entries():
    user = UserFactory()
    entry = AuditLogFactory(actor=user, actor_name=user.email)
    user_id = user.id
    user.delete()
    entry.refresh_from_db()
    assert entry.actor_id == user_id  # kept: the id is part of the entry's hash (audit.chain)
    assert entry.actor_name == user.email
