"""Notifications (DESIGN §16): channels and rules (audited writes), the hooks the run path and other apps
call, and delivery through Apprise (or Django's email for approvers) with retries recorded per attempt.

Nothing here can delay or fail a run: the hooks run after commit, only publish a task when a rule may match
(the enabled rules' events are cached for a few seconds per process), and swallow and log every error.
"""

from __future__ import annotations

import logging
import time
import uuid

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch, Q
from django.utils import timezone

from audit.services import audit_record, diff
from bifrost_site.api.errors import ConflictError
from notifications import messages
from notifications.models import (
    APPROVER_EMAIL_EVENT,
    TEST_EVENT,
    DeliveryStatus,
    NotificationChannel,
    NotificationDelivery,
    NotificationEvent,
    NotificationRule,
)

logger = logging.getLogger(__name__)

E = NotificationEvent
STATUS_EVENTS = {
    "Failed": E.EXECUTION_FAILED,
    "CompletedWithErrors": E.EXECUTION_FAILED,
    "Timeout": E.EXECUTION_TIMED_OUT,
    "Success": E.EXECUTION_SUCCEEDED,
}
RULE_CACHE_SECONDS = 5.0
_rule_events: tuple[float, frozenset[str]] = (0.0, frozenset())


def events_with_rules() -> frozenset[str]:
    """The events some enabled rule listens to (cached per process for RULE_CACHE_SECONDS)."""
    global _rule_events
    expires, events = _rule_events
    if time.monotonic() < expires:
        return events
    found: set[str] = set()
    for rule_events in NotificationRule.objects.filter(enabled=True).values_list("events", flat=True):
        found.update(rule_events or [])
    _rule_events = (time.monotonic() + RULE_CACHE_SECONDS, frozenset(found))
    return _rule_events[1]


def rules_changed() -> None:
    global _rule_events
    _rule_events = (0.0, frozenset())


# --- hooks (called after commit; never raise) --------------------------------------------------------


def execution_finished(execution) -> None:
    """`executions.transitions`: a run reached a final status."""
    event = STATUS_EVENTS.get(execution.status)
    if event is None:
        return
    try:
        if event not in events_with_rules():
            return
        from notifications.tasks import dispatch_execution_event_task

        dispatch_execution_event_task.delay(str(event), str(execution.id))
    except Exception:
        logger.exception("could not enqueue the %s notification of execution %s", event, execution.id)


def notify_approval(*, event: str, approval_id) -> None:
    """`approvals.services`: a request was made (approvers are emailed too) or decided."""
    try:
        if event == E.APPROVAL_REQUESTED or event in events_with_rules():
            from notifications.tasks import dispatch_approval_event_task

            dispatch_approval_event_task.delay(str(event), str(approval_id))
    except Exception:
        logger.exception("could not enqueue the %s notification of approval %s", event, approval_id)


def notify_event(*, event: str, organization_id=None, title: str, detail: str = "") -> None:
    """oauth.refresh_failed, workspace.job_failed: `title` goes to every channel, `detail` (a provider's or
    job's text) only to the MSP's GLOBAL channels."""
    try:
        if event not in events_with_rules():
            return
        from notifications.tasks import dispatch_event_task

        org = str(organization_id) if organization_id else None
        transaction.on_commit(lambda: dispatch_event_task.delay(str(event), org, title, detail))
    except Exception:
        logger.exception("could not enqueue the %s notification", event)


# --- dispatch: rules → deliveries ------------------------------------------------------------------


def matching_channels(*, event: str, organization_id, workflow_name: str | None) -> list[tuple]:
    """(rule, channel) pairs for an event of an organization (None = GLOBAL): GLOBAL rules and the
    organization's own; each enabled channel once. A channel of another organization is never used."""
    if organization_id is not None and not isinstance(organization_id, uuid.UUID):
        organization_id = uuid.UUID(str(organization_id))
    rules = (
        NotificationRule.objects.filter(enabled=True, events__contains=[event])
        .filter(Q(organization__isnull=True) | Q(organization_id=organization_id))
        .prefetch_related(Prefetch("channels", queryset=NotificationChannel.objects.filter(enabled=True)))
        .order_by("organization_id", "name")
    )
    pairs, seen = [], set()
    for rule in rules:
        if rule.workflow_names and workflow_name not in rule.workflow_names:
            continue
        for channel in rule.channels.all():
            if channel.organization_id not in (None, organization_id) or channel.id in seen:
                continue
            seen.add(channel.id)
            pairs.append((rule, channel))
    return pairs


def _enqueue(deliveries) -> None:
    from notifications.tasks import deliver_task

    ids = [str(d.id) for d in deliveries]

    def publish():
        for delivery_id in ids:
            try:
                deliver_task.delay(delivery_id)
            except Exception:
                logger.exception("could not enqueue notification delivery %s", delivery_id)

    transaction.on_commit(publish)


@transaction.atomic
def dispatch_execution_event(*, event: str, execution_id) -> list[NotificationDelivery]:
    from executions.models import Execution

    execution = Execution.objects.select_related("organization").filter(id=execution_id).first()
    if execution is None:
        return []
    created = []
    for rule, channel in matching_channels(
        event=event, organization_id=execution.organization_id, workflow_name=execution.workflow_name
    ):
        message = messages.execution_message(execution, event, customer_facing=channel.organization_id is not None)
        created.append(
            NotificationDelivery.objects.create(
                organization_id=execution.organization_id,
                rule=rule,
                channel=channel,
                event=event,
                execution=execution,
                title=message.title,
                body=message.body,
            )
        )
    _enqueue(created)
    return created


@transaction.atomic
def dispatch_approval_event(*, event: str, approval_id) -> list[NotificationDelivery]:
    from approvals.models import Approval
    from approvals.selectors import approver_emails

    approval = Approval.objects.select_related("organization").filter(id=approval_id).first()
    if approval is None:
        return []
    created = []
    message = messages.approval_message(approval, event)
    for rule, channel in matching_channels(
        event=event, organization_id=approval.organization_id, workflow_name=approval.workflow_name
    ):
        created.append(
            NotificationDelivery.objects.create(
                organization_id=approval.organization_id,
                rule=rule,
                channel=channel,
                event=event,
                execution_id=approval.execution_id,
                title=message.title,
                body=message.body,
            )
        )
    if event == E.APPROVAL_REQUESTED:
        recipients = approver_emails(approval)
        if recipients:
            email = messages.approver_email(approval)
            created.append(
                NotificationDelivery.objects.create(
                    organization_id=approval.organization_id,
                    recipients=recipients,
                    event=APPROVER_EMAIL_EVENT,
                    execution_id=approval.execution_id,
                    title=email.title,
                    body=email.body,
                )
            )
    _enqueue(created)
    return created


@transaction.atomic
def dispatch_event(*, event: str, organization_id, title: str, detail: str) -> list[NotificationDelivery]:
    created = []
    for rule, channel in matching_channels(event=event, organization_id=organization_id, workflow_name=None):
        message = messages.event_message(
            event, title=title, detail=detail, customer_facing=channel.organization_id is not None
        )
        created.append(
            NotificationDelivery.objects.create(
                organization_id=organization_id,
                rule=rule,
                channel=channel,
                event=event,
                title=message.title,
                body=message.body,
            )
        )
    _enqueue(created)
    return created


# --- delivery ----------------------------------------------------------------------------------------


class DeliveryFailed(Exception):
    pass


def send_apprise(url: str, *, title: str, body: str) -> None:
    """Send one message through Apprise; raise DeliveryFailed with Apprise's own words on failure."""
    import apprise

    sender = apprise.Apprise()
    if not sender.add(str(url)):
        raise DeliveryFailed("The channel's URL is not a valid Apprise URL.")
    with apprise.LogCapture(level=logging.WARNING) as captured:
        ok = sender.notify(body=body, title=title, timeout=settings.NOTIFICATION_TIMEOUT_SECONDS)
    if not ok:
        text = captured.getvalue().strip() if hasattr(captured, "getvalue") else ""
        raise DeliveryFailed(text[-1000:] or "The receiver did not accept the message.")


def send_email(recipients: list[str], *, title: str, body: str) -> None:
    from django.core.mail import send_mail

    try:
        send_mail(subject=title, message=body, from_email=settings.DEFAULT_FROM_EMAIL, recipient_list=recipients)
    except Exception as exc:
        raise DeliveryFailed(f"{type(exc).__name__}: {exc}"[:1000]) from exc


def delivery_attempt(*, delivery_id) -> NotificationDelivery | None:
    """One attempt: sent, or the error recorded (`retrying` until the caller gives up). None if gone or done."""
    delivery = NotificationDelivery.objects.select_related("channel").filter(id=delivery_id).first()
    if delivery is None or delivery.status in (DeliveryStatus.SENT, DeliveryStatus.FAILED):
        return delivery
    now = timezone.now()
    try:
        if delivery.channel_id is not None:
            if not delivery.channel.enabled:
                raise DeliveryFailed("The channel was disabled.")
            send_apprise(delivery.channel.url, title=delivery.title, body=delivery.body)
        else:
            send_email(list(delivery.recipients), title=delivery.title, body=delivery.body)
    except DeliveryFailed as exc:
        delivery.status, delivery.last_error = DeliveryStatus.RETRYING, str(exc)
        logger.warning("notification delivery %s failed (attempt %s): %s", delivery.id, delivery.attempts + 1, exc)
    else:
        delivery.status, delivery.sent_at, delivery.last_error = DeliveryStatus.SENT, now, ""
    delivery.attempts += 1
    delivery.last_attempt_at = now
    delivery.save(update_fields=["status", "sent_at", "last_error", "attempts", "last_attempt_at", "updated_at"])
    return delivery


def delivery_give_up(*, delivery_id) -> None:
    NotificationDelivery.objects.filter(id=delivery_id, status=DeliveryStatus.RETRYING).update(
        status=DeliveryStatus.FAILED, updated_at=timezone.now()
    )


def retry_delay(attempts: int) -> float:
    return min(settings.NOTIFICATION_RETRY_SECONDS * 2 ** max(attempts - 1, 0), 3600.0)


def channel_test(*, channel: NotificationChannel, user) -> NotificationDelivery:
    """`POST …/channels/{id}/test`: send a test message now (one attempt) and record it."""
    where = channel.organization.name if channel.organization_id else "Global"
    delivery = NotificationDelivery.objects.create(
        organization_id=channel.organization_id,
        channel=channel,
        event=TEST_EVENT,
        title="[Bifrost] Test message",
        body=f"A test of the notification channel '{channel.name}' ({where}), sent by {user.email}.",
    )
    delivery = delivery_attempt(delivery_id=delivery.id)
    if delivery.status != DeliveryStatus.SENT:
        delivery_give_up(delivery_id=delivery.id)
        delivery.refresh_from_db()
    return delivery


# --- channels and rules (audited) ----------------------------------------------------------------------

CHANNEL_FIELDS = ("name", "enabled", "organization_id")
RULE_FIELDS = ("name", "events", "workflow_names", "enabled", "organization_id")


def _snap(obj, fields) -> dict:
    data = {f: getattr(obj, f) for f in fields}
    data["organization_id"] = str(obj.organization_id) if obj.organization_id else None
    if isinstance(obj, NotificationRule) and obj.pk:
        data["channel_ids"] = sorted(str(c) for c in obj.channels.values_list("id", flat=True))
    return data


def _audit(action: str, obj, user, before, after, **extra) -> None:
    audit_record(
        action=action,
        resource_type=action.split(".")[0],
        resource_id=obj.id,
        actor=user,
        organization=obj.organization_id,
        changes={**diff(before, after), **extra},
    )


def _unique(model, organization_id, name: str, exclude_id=None) -> None:
    existing = model.objects.filter(organization_id=organization_id, name=name)
    if exclude_id is not None:
        existing = existing.exclude(id=exclude_id)
    if existing.exists():
        scope = "this organization" if organization_id else "GLOBAL scope"
        raise ConflictError(f"'{name}' already exists in {scope}.", details={"name": name})


@transaction.atomic
def channel_create(*, organization, name: str, url: str, enabled: bool = True, user=None) -> NotificationChannel:
    org_id = getattr(organization, "pk", organization)
    _unique(NotificationChannel, org_id, name)
    channel = NotificationChannel.objects.create(
        organization_id=org_id, name=name, url=url, enabled=enabled, created_by=user
    )
    _audit("notification_channel.create", channel, user, None, _snap(channel, CHANNEL_FIELDS), url_changed=True)
    return channel


@transaction.atomic
def channel_update(*, channel: NotificationChannel, user=None, **values) -> NotificationChannel:
    before = _snap(channel, CHANNEL_FIELDS)
    if "name" in values:
        _unique(NotificationChannel, channel.organization_id, values["name"], exclude_id=channel.id)
    for key, value in values.items():
        setattr(channel, key, value)
    channel.save()
    _audit(
        "notification_channel.update",
        channel,
        user,
        before,
        _snap(channel, CHANNEL_FIELDS),
        url_changed="url" in values,
    )
    return channel


@transaction.atomic
def channel_delete(*, channel: NotificationChannel, user=None) -> None:
    before = _snap(channel, CHANNEL_FIELDS)
    _audit("notification_channel.delete", channel, user, before, None)
    channel.delete()


def _check_channels(organization_id, channels) -> None:
    from rest_framework.exceptions import ValidationError

    for channel in channels:
        if channel.organization_id not in (None, organization_id) or (
            organization_id is None and channel.organization_id is not None
        ):
            raise ValidationError(
                {
                    "channel_ids": [
                        f"The channel '{channel.name}' belongs to another organization: a GLOBAL rule may "
                        "only use GLOBAL channels, an organization's rule its own and GLOBAL ones."
                    ]
                }
            )


@transaction.atomic
def rule_create(*, organization, name: str, events, channels, workflow_names=(), enabled=True, user=None):
    org_id = getattr(organization, "pk", organization)
    _unique(NotificationRule, org_id, name)
    _check_channels(org_id, channels)
    rule = NotificationRule.objects.create(
        organization_id=org_id,
        name=name,
        events=sorted(set(events)),
        workflow_names=list(workflow_names),
        enabled=enabled,
    )
    rule.channels.set(channels)
    _audit("notification_rule.create", rule, user, None, _snap(rule, RULE_FIELDS))
    transaction.on_commit(rules_changed)
    return rule


@transaction.atomic
def rule_update(*, rule: NotificationRule, user=None, channels=None, **values) -> NotificationRule:
    before = _snap(rule, RULE_FIELDS)
    if "name" in values:
        _unique(NotificationRule, rule.organization_id, values["name"], exclude_id=rule.id)
    if "events" in values:
        values["events"] = sorted(set(values["events"]))
    for key, value in values.items():
        setattr(rule, key, value)
    rule.save()
    if channels is not None:
        _check_channels(rule.organization_id, channels)
        rule.channels.set(channels)
    _audit("notification_rule.update", rule, user, before, _snap(rule, RULE_FIELDS))
    transaction.on_commit(rules_changed)
    return rule


@transaction.atomic
def rule_delete(*, rule: NotificationRule, user=None) -> None:
    _audit("notification_rule.delete", rule, user, _snap(rule, RULE_FIELDS), None)
    rule.delete()
    transaction.on_commit(rules_changed)
