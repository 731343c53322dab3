import datetime

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from accounts.tests.factories import UserFactory
from executions.models import Execution, ExecutionLog, ExecutionStatus, Trigger
from orgs.tests.factories import OrganizationFactory


class ExecutionFactory(DjangoModelFactory):
    class Meta:
        model = Execution

    workflow_name = "hello_world"
    organization = factory.SubFactory(OrganizationFactory)
    executed_by = factory.SubFactory(UserFactory, organization=factory.SelfAttribute("..organization"))
    executed_by_name = factory.LazyAttribute(lambda o: o.executed_by.email if o.executed_by else "system")
    trigger = Trigger.MANUAL
    status = ExecutionStatus.SUCCESS
    parameters = factory.LazyFunction(dict)
    started_at = factory.LazyFunction(timezone.now)
    completed_at = factory.LazyAttribute(
        lambda o: o.started_at + datetime.timedelta(milliseconds=120) if o.started_at is not None else None
    )
    duration_ms = 120


class ExecutionLogFactory(DjangoModelFactory):
    class Meta:
        model = ExecutionLog

    execution = factory.SubFactory(ExecutionFactory)
    sequence = factory.Sequence(lambda n: n + 1)
    level = "info"
    message = factory.Sequence(lambda n: f"line {n}")
    timestamp = factory.LazyFunction(timezone.now)
