import factory
from factory.django import DjangoModelFactory

from orgs.tests.factories import OrganizationFactory
from secrets_app.models import Secret


class SecretFactory(DjangoModelFactory):
    class Meta:
        model = Secret

    name = factory.Sequence(lambda n: f"secret_{n}")
    value = factory.Sequence(lambda n: f"s3cr3t-value-{n}-do-not-leak")
    organization = factory.SubFactory(OrganizationFactory)
