"""Suite-wide fixtures: personas, API clients and isolation on the real services."""

import pytest

pytest_plugins = ["bifrost_site.testing.engine"]


@pytest.fixture(scope="session", autouse=True)
def _isolated_services():
    yield
    from bifrost_site.testing.services import cleanup_queues, cleanup_redis_prefix

    cleanup_redis_prefix()
    cleanup_queues()


@pytest.fixture(autouse=True)
def _media_root(tmp_path, settings):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.fixture(autouse=True)
def _clear_cache():
    """Throttle counters and caches live in Redis under this run's prefix; start each test clean.

    Only this run's keys are deleted (never FLUSHDB): other runs may share the Redis database.
    """
    yield
    from bifrost_site.testing.services import cleanup_cache_keys

    cleanup_cache_keys()


@pytest.fixture
def org(db):
    from orgs.tests.factories import OrganizationFactory

    return OrganizationFactory(name="Contoso")


@pytest.fixture
def other_org(db):
    from orgs.tests.factories import OrganizationFactory

    return OrganizationFactory(name="Fabrikam")


@pytest.fixture
def admin_user(db):
    from accounts.tests.factories import PlatformAdminFactory

    return PlatformAdminFactory(email="root@msp.test")


@pytest.fixture
def member(org):
    from accounts.tests.factories import UserFactory

    return UserFactory(organization=org, email="member@contoso.test")


@pytest.fixture
def outsider(other_org):
    from accounts.tests.factories import UserFactory

    return UserFactory(organization=other_org, email="outsider@fabrikam.test")


def client_for(user=None, organization=None):
    from rest_framework.test import APIClient

    from accounts.services import tokens_issue

    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens_issue(user=user).access_token}")
    if organization is not None:
        client.defaults["HTTP_X_ORGANIZATION_ID"] = str(getattr(organization, "id", organization))
    return client


@pytest.fixture
def api_client():
    from rest_framework.test import APIClient

    return APIClient()


@pytest.fixture
def admin_client(admin_user):
    return client_for(admin_user)


@pytest.fixture
def member_client(member):
    return client_for(member)


@pytest.fixture
def outsider_client(outsider):
    return client_for(outsider)
