import factory
from factory.django import DjangoModelFactory

from audit.models import AuditLog
from orgs.tests.factories import OrganizationFactory


class AuditLogFactory(DjangoModelFactory):
    class Meta:
        model = AuditLog

    action = "organization.update"
    actor_name = "someone@msp.test"
    organization = factory.SubFactory(OrganizationFactory)
    resource_type = "organization"
    resource_id = factory.LazyAttribute(lambda o: str(o.organization.id) if o.organization else "")
