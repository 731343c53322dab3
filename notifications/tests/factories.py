import factory
from factory.django import DjangoModelFactory

from notifications.models import NotificationChannel, NotificationDelivery, NotificationRule
from orgs.tests.factories import OrganizationFactory


class NotificationChannelFactory(DjangoModelFactory):
    class Meta:
        model = NotificationChannel

    name = factory.Sequence(lambda n: f"channel {n}")
    organization = factory.SubFactory(OrganizationFactory)
    url = "json://127.0.0.1:9/hook"


class NotificationRuleFactory(DjangoModelFactory):
    class Meta:
        model = NotificationRule
        skip_postgeneration_save = True

    name = factory.Sequence(lambda n: f"rule {n}")
    organization = factory.SubFactory(OrganizationFactory)
    events = factory.LazyFunction(lambda: ["execution.failed"])

    @factory.post_generation
    def channels(self, create, extracted, **kwargs):
        if create and extracted:
            self.channels.set(extracted)


class NotificationDeliveryFactory(DjangoModelFactory):
    class Meta:
        model = NotificationDelivery

    organization = factory.SubFactory(OrganizationFactory)
    channel = factory.SubFactory(NotificationChannelFactory, organization=factory.SelfAttribute("..organization"))
    event = "execution.failed"
    title = "[Bifrost] a run failed"
    body = "Workflow: x"
