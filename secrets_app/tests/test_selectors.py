import pytest

from bifrost_site.crypto import UndecryptableValue
from secrets_app.selectors import SecretNotFound, SecretUndecryptable, secret_value
from secrets_app.tests.factories import SecretFactory

pytestmark = pytest.mark.django_db

OTHER_KEY = "hTBWz1Ky1bY0fyvTCvpmm_t1Ljx-mCJxu2P8ws8xZQE="


def test_org_row_wins_then_global(org, other_org):
    SecretFactory(organization=None, name="api", value="global-value")
    SecretFactory(organization=org, name="api", value="org-value")
    assert secret_value(organization_id=org.id, name="api") == "org-value"
    assert secret_value(organization_id=other_org.id, name="api") == "global-value"
    assert secret_value(organization_id=None, name="api") == "global-value"


def test_missing_secret_names_it(org, other_org):
    SecretFactory(organization=other_org, name="theirs")
    with pytest.raises(SecretNotFound, match="'theirs'"):
        secret_value(organization_id=org.id, name="theirs")
    with pytest.raises(LookupError, match="'nope'.*GLOBAL"):
        secret_value(organization_id=None, name="nope")


def test_undecryptable_value_names_the_row(org, settings):
    secret = SecretFactory(organization=org, name="orphan")
    settings.ENCRYPTION_KEYS = [OTHER_KEY]
    with pytest.raises(SecretUndecryptable) as excinfo:
        secret_value(organization_id=org.id, name="orphan")
    assert "orphan" in str(excinfo.value) and str(secret.id) in str(excinfo.value)


def test_list_with_an_undecryptable_row_still_works(admin_user, org, settings):
    from conftest import client_for
    from secrets_app.models import Secret

    SecretFactory(organization=org, name="orphan")
    SecretFactory(organization=org, name="fine")
    settings.ENCRYPTION_KEYS = [OTHER_KEY]
    response = client_for(admin_user, org).get("/api/secrets")
    assert response.status_code == 200
    assert {i["name"] for i in response.json()["results"]} == {"orphan", "fine"}
    assert isinstance(Secret.objects.get(name="orphan").value, UndecryptableValue)
