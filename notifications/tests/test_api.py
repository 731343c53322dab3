"""/api/notifications: the channel URL is write-only and encrypted, the test endpoint reports the outcome,
rules only use channels their scope may (a GLOBAL rule never sends to an organization's channel)."""

import pytest
from django.db import connection

from audit.models import AuditLog
from conftest import client_for
from notifications.models import NotificationChannel, NotificationDelivery
from notifications.tests.factories import NotificationChannelFactory
from notifications.tests.receivers import WebhookReceiver

pytestmark = pytest.mark.django_db


def test_channel_url_is_write_only_and_encrypted(admin_user):
    secret_url = "workflows://prod-01.westeurope.logic.azure.com:443/0a1b2c3d4e5f4a6b8c9d0e1f2a3b4c5d/TokenASig-abc123"
    response = client_for(admin_user).post(
        "/api/notifications/channels", {"name": "MSP Teams", "url": secret_url}, format="json"
    )
    assert response.status_code == 201, response.content
    body = response.json()
    assert "url" not in body and body["kind"] == "workflows" and body["organization_id"] is None
    listed = client_for(admin_user).get("/api/notifications/channels").content.decode()
    assert "TokenA" not in listed
    with connection.cursor() as cursor:
        cursor.execute("SELECT url FROM notifications_notificationchannel WHERE id = %s", [body["id"]])
        (stored,) = cursor.fetchone()
    assert "TokenA" not in stored
    assert NotificationChannel.objects.get(id=body["id"]).url == secret_url
    entry = AuditLog.objects.get(action="notification_channel.create", resource_id=body["id"])
    assert "TokenA" not in str(entry.changes)


def test_a_bad_apprise_url_is_a_400(admin_user):
    response = client_for(admin_user).post(
        "/api/notifications/channels", {"name": "x", "url": "not a url"}, format="json"
    )
    assert response.status_code == 400 and "url" in response.json()["details"]


def test_the_test_endpoint_sends_and_reports(admin_user):
    with WebhookReceiver() as receiver:
        channel = NotificationChannelFactory(organization=None, url=receiver.url())
        ok = client_for(admin_user).post(f"/api/notifications/channels/{channel.id}/test")
    assert ok.status_code == 200 and ok.json()["status"] == "sent", ok.content
    assert receiver.received[0]["json"]["title"] == "[Bifrost] Test message"
    dead = NotificationChannelFactory(organization=None, url="json://127.0.0.1:9/closed")
    failed = client_for(admin_user).post(f"/api/notifications/channels/{dead.id}/test").json()
    assert failed["status"] == "failed" and failed["error"]
    assert NotificationDelivery.objects.get(id=failed["delivery_id"]).attempts == 1


def test_a_global_rule_cannot_use_an_organizations_channel(admin_user, org):
    theirs = NotificationChannelFactory(organization=org)
    response = client_for(admin_user).post(
        "/api/notifications/rules",
        {"name": "all failures", "events": ["execution.failed"], "channel_ids": [str(theirs.id)]},
        format="json",
    )
    assert response.status_code == 400  # not in the GLOBAL scope's channels
    mine = NotificationChannelFactory(organization=None)
    in_org = client_for(admin_user, org).post(
        "/api/notifications/rules",
        {
            "name": "contoso",
            "events": ["execution.failed", "approval.decided"],
            "channel_ids": [str(mine.id), str(theirs.id)],
        },
        format="json",
    )
    assert in_org.status_code == 201, in_org.content
    bad_event = client_for(admin_user).post(
        "/api/notifications/rules",
        {"name": "x", "events": ["execution.exploded"], "channel_ids": [str(mine.id)]},
        format="json",
    )
    assert bad_event.status_code == 400 and "events" in bad_event.json()["details"]
