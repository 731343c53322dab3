import datetime

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from approvals.models import Approval, ApprovalStatus
from executions.models import ExecutionStatus
from executions.tests.factories import ExecutionFactory
from orgs.tests.factories import OrganizationFactory


class ApprovalFactory(DjangoModelFactory):
    """A pending request for an `AwaitingApproval` run, in one organization (the run's)."""

    class Meta:
        model = Approval
        skip_postgeneration_save = True

    organization = factory.SubFactory(OrganizationFactory)
    execution = factory.SubFactory(
        ExecutionFactory,
        organization=factory.SelfAttribute("..organization"),
        status=ExecutionStatus.AWAITING_APPROVAL,
        started_at=None,
        duration_ms=None,
    )
    workflow_name = factory.SelfAttribute("execution.workflow_name")
    requested_by = factory.SelfAttribute("execution.executed_by")
    requested_by_name = factory.SelfAttribute("execution.executed_by_name")
    expires_at = factory.LazyFunction(lambda: timezone.now() + datetime.timedelta(hours=72))
    status = ApprovalStatus.PENDING
    policy_source = "workflow"

    @factory.post_generation
    def approver_roles(self, create, extracted, **kwargs):
        if create and extracted:
            self.approver_roles.set(extracted)
