import factory
from factory.django import DjangoModelFactory

from orgs.models import Config, ConfigType, Organization


class OrganizationFactory(DjangoModelFactory):
    class Meta:
        model = Organization

    name = factory.Sequence(lambda n: f"Customer {n}")
    domain = factory.Sequence(lambda n: f"customer{n}.example")
    is_active = True


class ConfigFactory(DjangoModelFactory):
    class Meta:
        model = Config

    key = factory.Sequence(lambda n: f"setting_{n}")
    value = "value"
    config_type = ConfigType.STRING
    organization = factory.SubFactory(OrganizationFactory)
