"""Rules → deliveries → real receivers on loopback (a JSON webhook server, an SMTP server): who gets what,
what a message may say, retries recorded per attempt, and a run that never notices."""

import pytest

from accounts.tests.factories import PlatformAdminFactory, RoleFactory, UserFactory, UserRoleFactory
from executions import transitions
from executions.models import Execution, ExecutionStatus
from executions.tests.factories import ExecutionFactory
from notifications import services
from notifications.models import APPROVER_EMAIL_EVENT, DeliveryStatus, NotificationDelivery
from notifications.tasks import deliver_task
from notifications.tests.factories import NotificationChannelFactory, NotificationRuleFactory
from notifications.tests.receivers import WebhookReceiver, smtp_receiver

pytestmark = pytest.mark.django_db
S = ExecutionStatus


@pytest.fixture(autouse=True)
def fast_retries(settings):
    settings.NOTIFICATION_RETRY_SECONDS = 0.01
    settings.NOTIFICATION_MAX_ATTEMPTS = 3
    services.rules_changed()


def failed_run(organization, **kwargs):
    return ExecutionFactory(
        organization=organization,
        workflow_name="sync_mailboxes",
        status=S.FAILED,
        error_type="KeyError",
        error_message="'licence' (secret ***)",
        **kwargs,
    )


def deliver_all(deliveries):
    for delivery in deliveries:
        deliver_task.apply(args=[str(delivery.id)])


def test_global_rule_fires_for_every_org_and_org_rule_only_for_its_own(org, other_org):
    with WebhookReceiver() as msp, WebhookReceiver() as customer:
        msp_channel = NotificationChannelFactory(organization=None, url=msp.url("msp"))
        org_channel = NotificationChannelFactory(organization=org, url=customer.url("contoso"))
        NotificationRuleFactory(organization=None, events=["execution.failed"], channels=[msp_channel])
        NotificationRuleFactory(organization=org, events=["execution.failed"], channels=[org_channel])
        for organization in (org, other_org):
            run = failed_run(organization)
            deliver_all(services.dispatch_execution_event(event="execution.failed", execution_id=run.id))
    assert len(msp.received) == 2
    assert len(customer.received) == 1
    msp_text = msp.received[0]["json"]["message"]
    assert "KeyError: 'licence' (secret ***)" in msp_text and "sync_mailboxes" in msp_text
    customer_text = customer.received[0]["json"]["message"]
    assert "KeyError" not in customer_text and "licence" not in customer_text
    assert "An error occurred during execution" in customer_text
    assert "/executions/" in customer_text
    assert NotificationDelivery.objects.filter(status=DeliveryStatus.SENT, attempts=1).count() == 3


def test_user_error_is_shown_to_customers_and_workflow_names_filter(org):
    with WebhookReceiver() as customer:
        channel = NotificationChannelFactory(organization=org, url=customer.url())
        NotificationRuleFactory(
            organization=org, events=["execution.failed"], workflow_names=["sync_mailboxes"], channels=[channel]
        )
        run = ExecutionFactory(
            organization=org, workflow_name="sync_mailboxes", status=S.FAILED, error_type="UserError",
            error_message="The mailbox does not exist.",
        )  # fmt: skip
        other = failed_run(
            org,
        )
        other.workflow_name = "other_workflow"
        other.save()
        deliver_all(services.dispatch_execution_event(event="execution.failed", execution_id=run.id))
        assert services.dispatch_execution_event(event="execution.failed", execution_id=other.id) == []
    assert "Error: The mailbox does not exist." in customer.received[0]["json"]["message"]


def test_a_failing_receiver_is_retried_and_recorded_without_touching_the_run(org):
    run = failed_run(org)
    with WebhookReceiver(fail_first=1) as flaky:
        channel = NotificationChannelFactory(organization=None, url=flaky.url())
        NotificationRuleFactory(organization=None, events=["execution.failed"], channels=[channel])
        (delivery,) = services.dispatch_execution_event(event="execution.failed", execution_id=run.id)
        deliver_all([delivery])
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT and delivery.attempts == 2 and delivery.last_error == ""
    assert len(flaky.received) == 1
    with WebhookReceiver(fail_first=99) as broken:
        channel.url = broken.url()
        channel.save()
        (dead,) = services.dispatch_execution_event(event="execution.failed", execution_id=run.id)
        deliver_all([dead])
    dead.refresh_from_db()
    assert dead.status == DeliveryStatus.FAILED and dead.attempts == 3
    assert dead.last_error
    assert Execution.objects.get(id=run.id).status == S.FAILED  # the run never noticed


def test_the_finishing_transition_enqueues_only_when_a_rule_listens(
    org, monkeypatch, django_capture_on_commit_callbacks
):
    from notifications import tasks

    sent = []
    monkeypatch.setattr(tasks.dispatch_execution_event_task, "delay", lambda *args: sent.append(args))
    running = ExecutionFactory(organization=org, status=S.RUNNING, completed_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        transitions.transition(running.id, from_statuses={S.RUNNING}, to=S.FAILED, error_type="X")
    assert sent == []  # no rule: nothing published
    NotificationRuleFactory(organization=None, events=["execution.failed", "execution.timed_out"])
    services.rules_changed()
    for to in (S.TIMEOUT, S.SUCCESS):
        row = ExecutionFactory(organization=org, status=S.RUNNING, completed_at=None)
        with django_capture_on_commit_callbacks(execute=True):
            transitions.transition(row.id, from_statuses={S.RUNNING}, to=to)
    assert [args[0] for args in sent] == ["execution.timed_out"]


def test_a_broken_hook_never_fails_the_transition(org, monkeypatch, django_capture_on_commit_callbacks):
    from notifications import tasks

    def broker_down(*args):
        raise ConnectionError("broker down")

    NotificationRuleFactory(organization=None, events=["execution.succeeded"])
    services.rules_changed()
    monkeypatch.setattr(tasks.dispatch_execution_event_task, "delay", broker_down)
    row = ExecutionFactory(organization=org, status=S.RUNNING, completed_at=None)
    with django_capture_on_commit_callbacks(execute=True):
        assert transitions.transition(row.id, from_statuses={S.RUNNING}, to=S.SUCCESS) is not None
    assert Execution.objects.get(id=row.id).status == S.SUCCESS


def test_approvers_get_an_email_with_the_link_over_real_smtp(org, member, settings):
    import environ

    from approvals.tests.factories import ApprovalFactory

    role = RoleFactory(organization=org)
    approver = UserFactory(organization=org, email="approver@contoso.test")
    UserRoleFactory(user=approver, role=role)
    admin = PlatformAdminFactory(email="ops@msp.test")
    approval = ApprovalFactory(organization=org, approver_roles=[role], execution__executed_by=member)
    settings.PUBLIC_BASE_URL = "https://bifrost.msp.test"
    with smtp_receiver() as (port, received):
        for key, value in environ.Env.email_url_config(f"smtp://127.0.0.1:{port}").items():
            setattr(settings, key, value)
        deliveries = services.dispatch_approval_event(event="approval.requested", approval_id=approval.id)
        deliver_all(deliveries)
    (email,) = [d for d in deliveries if d.event == APPROVER_EMAIL_EVENT]
    email.refresh_from_db()
    assert email.status == DeliveryStatus.SENT
    assert sorted(email.recipients) == sorted([approver.email, admin.email])
    assert member.email not in email.recipients  # never the requester
    (message,) = received
    assert f"https://bifrost.msp.test/approvals/#approval-{approval.id}" in message.get_payload()


def test_an_email_channel_through_apprise_reaches_the_smtp_server(org):
    run = failed_run(org)
    with smtp_receiver() as (port, received):
        channel = NotificationChannelFactory(
            organization=None, url=f"mailto://127.0.0.1:{port}?from=bifrost@msp.test&to=ops@msp.test"
        )
        NotificationRuleFactory(organization=None, events=["execution.failed"], channels=[channel])
        deliver_all(services.dispatch_execution_event(event="execution.failed", execution_id=run.id))
    assert NotificationDelivery.objects.get(channel=channel).status == DeliveryStatus.SENT, (
        NotificationDelivery.objects.get(channel=channel).last_error
    )
    assert len(received) == 1 and "sync_mailboxes" in received[0]["Subject"]


def test_oauth_refresh_failure_tells_the_msp_the_providers_words_and_the_customer_only_the_fact(
    org, monkeypatch, django_capture_on_commit_callbacks
):
    from notifications import tasks

    published = []
    monkeypatch.setattr(tasks.dispatch_event_task, "delay", lambda *args: published.append(args))
    with WebhookReceiver() as msp, WebhookReceiver() as customer:
        NotificationRuleFactory(
            organization=None, events=["oauth.refresh_failed"],
            channels=[NotificationChannelFactory(organization=None, url=msp.url())],
        )  # fmt: skip
        NotificationRuleFactory(
            organization=org, events=["oauth.refresh_failed"],
            channels=[NotificationChannelFactory(organization=org, url=customer.url())],
        )  # fmt: skip
        services.rules_changed()
        with django_capture_on_commit_callbacks(execute=True):
            services.notify_event(
                event="oauth.refresh_failed", organization_id=org.id, title="OAuth connection 'graph' could not be "
                "refreshed", detail="invalid_grant: AADSTS70000 token revoked",
            )  # fmt: skip
        (args,) = published
        made = services.dispatch_event(event=args[0], organization_id=args[1], title=args[2], detail=args[3])
        deliver_all(made)
    assert "AADSTS70000" in msp.received[0]["json"]["message"]
    assert "AADSTS70000" not in customer.received[0]["json"]["message"]
    assert "could not be refreshed" in customer.received[0]["json"]["message"]


def test_a_failed_workspace_job_is_an_event(monkeypatch, django_capture_on_commit_callbacks):
    from notifications import tasks
    from workflows.models import JobStatus
    from workflows.services.jobs import job_finish
    from workflows.tests.factories import WorkspaceJobFactory

    published = []
    monkeypatch.setattr(tasks.dispatch_event_task, "delay", lambda *args: published.append(args))
    NotificationRuleFactory(organization=None, events=["workspace.job_failed"])
    services.rules_changed()
    with django_capture_on_commit_callbacks(execute=True):
        job_finish(WorkspaceJobFactory(), status=JobStatus.SUCCESS)
        job_finish(WorkspaceJobFactory(), status=JobStatus.FAILED, error="git: repository not found")
    assert [(args[0], args[1], args[3]) for args in published] == [
        ("workspace.job_failed", None, "git: repository not found")
    ]
