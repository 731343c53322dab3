"""Thin tasks on the `default` queue: ids in, a service called."""

from celery import shared_task


@shared_task(name="notifications.dispatch_execution_event", ignore_result=True)
def dispatch_execution_event_task(event: str, execution_id: str) -> None:
    from notifications.services import dispatch_execution_event

    dispatch_execution_event(event=event, execution_id=execution_id)


@shared_task(name="notifications.dispatch_approval_event", ignore_result=True)
def dispatch_approval_event_task(event: str, approval_id: str) -> None:
    from notifications.services import dispatch_approval_event

    dispatch_approval_event(event=event, approval_id=approval_id)


@shared_task(name="notifications.dispatch_event", ignore_result=True)
def dispatch_event_task(event: str, organization_id: str | None, title: str, detail: str) -> None:
    from notifications.services import dispatch_event

    dispatch_event(event=event, organization_id=organization_id, title=title, detail=detail)


@shared_task(bind=True, name="notifications.deliver", ignore_result=True, max_retries=None)
def deliver_task(self, delivery_id: str) -> None:
    """One attempt per run of the task; a failure is retried with exponential backoff until
    NOTIFICATION_MAX_ATTEMPTS, then the delivery is `failed`. Every attempt is recorded on the row."""
    from django.conf import settings

    from notifications.models import DeliveryStatus
    from notifications.services import delivery_attempt, delivery_give_up, retry_delay

    delivery = delivery_attempt(delivery_id=delivery_id)
    if delivery is None or delivery.status != DeliveryStatus.RETRYING:
        return
    if delivery.attempts >= settings.NOTIFICATION_MAX_ATTEMPTS:
        delivery_give_up(delivery_id=delivery_id)
        return
    raise self.retry(countdown=retry_delay(delivery.attempts))
