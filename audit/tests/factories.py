import factory
from factory.django import DjangoModelFactory

from audit.chain import chain_append
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

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        """Entries join the hash chain like every other (audit.chain)."""
        entry = model_class(*args, **kwargs)
        chain_append(entry)
        return entry
