import datetime

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from oauth_app.models import ConnectionStatus, FlowType, OAuthConnection, OAuthToken
from orgs.tests.factories import OrganizationFactory


class OAuthConnectionFactory(DjangoModelFactory):
    class Meta:
        model = OAuthConnection

    name = factory.Sequence(lambda n: f"connection_{n}")
    organization = factory.SubFactory(OrganizationFactory)
    flow_type = FlowType.AUTHORIZATION_CODE
    client_id = factory.Sequence(lambda n: f"client-{n}")
    client_secret = "client-secret-value-xyz"
    authorization_url = "http://127.0.0.1:9/authorize"
    token_url = "http://127.0.0.1:9/token"
    scopes = factory.LazyFunction(lambda: ["read"])


class OAuthTokenFactory(DjangoModelFactory):
    class Meta:
        model = OAuthToken

    connection = factory.SubFactory(OAuthConnectionFactory, status=ConnectionStatus.COMPLETED)
    access_token = factory.Sequence(lambda n: f"access-token-{n}")
    refresh_token = factory.Sequence(lambda n: f"refresh-token-{n}")
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(hours=1))
