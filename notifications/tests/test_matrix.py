"""Tenancy/permission matrix for /api/notifications/* (bifrost_site.testing.matrix): platform admins only;
channels and rules are OWNED (an org scope sees its rows and the GLOBAL ones), deliveries are ACTIVITY."""

import uuid

import pytest

from bifrost_site.testing.matrix import ACTIVITY, OWNED, Extra, ResourceMatrix
from notifications.tests.factories import (
    NotificationChannelFactory,
    NotificationDeliveryFactory,
    NotificationRuleFactory,
)

pytestmark = pytest.mark.django_db


class TestNotificationChannelMatrix(ResourceMatrix):
    list_url = "/api/notifications/channels"
    detail_url = "/api/notifications/channels/{lookup}"
    scope_mode = OWNED
    max_list_queries = 4
    extras = (Extra("/api/notifications/channels/{lookup}/test", methods=("POST",)),)

    def make(self, organization):
        return NotificationChannelFactory(organization=organization)

    def create_payload(self, organization):
        return {"name": f"teams {uuid.uuid4().hex[:8]}", "url": "json://127.0.0.1:9/hook"}

    def update_payload(self, obj):
        return {"enabled": False}


class TestNotificationRuleMatrix(ResourceMatrix):
    list_url = "/api/notifications/rules"
    detail_url = "/api/notifications/rules/{lookup}"
    scope_mode = OWNED
    max_list_queries = 5

    def make(self, organization):
        channel = NotificationChannelFactory(organization=organization)
        return NotificationRuleFactory(organization=organization, channels=[channel])

    def create_payload(self, organization):
        channel = NotificationChannelFactory(organization=organization)
        return {
            "name": f"failures {uuid.uuid4().hex[:8]}",
            "events": ["execution.failed"],
            "channel_ids": [str(channel.id)],
        }

    def update_payload(self, obj):
        return {
            "events": ["execution.failed", "approval.requested"],
            "channel_ids": [str(c.id) for c in obj.channels.all()],
        }


class TestNotificationDeliveryMatrix(ResourceMatrix):
    list_url = "/api/notifications/deliveries"
    detail_url = "/api/notifications/deliveries/{lookup}"
    scope_mode = ACTIVITY
    list_methods = ("GET",)
    detail_methods = ("GET",)
    max_list_queries = 4

    def make(self, organization):
        return NotificationDeliveryFactory(organization=organization)
