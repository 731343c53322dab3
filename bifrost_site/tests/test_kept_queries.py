"""KeptQuery answers exactly what its queryset answers, in one query, with the caller's values."""

import uuid

import pytest
from django.db import connection
from django.db.models import Exists, OuterRef
from django.test.utils import CaptureQueriesContext

from accounts.models import User, UserRole
from accounts.tests.factories import PlatformAdminFactory, UserFactory, UserRoleFactory
from bifrost_site.kept_queries import KeptQuery

pytestmark = pytest.mark.django_db

FIELDS = ("id", "email", "name", "user_type", "is_platform_admin", "organization_id", "is_active", "created_at")


def _users_with_role_flag(user_id, role_name):
    return (
        User.objects.select_related("organization")
        .filter(id=user_id)
        .annotate(has_role=Exists(UserRole.objects.filter(user=OuterRef("pk"), role__name=role_name)))
    )


KEPT = KeptQuery(_users_with_role_flag, uuid.UUID(int=0), "placeholder-role")


def test_kept_query_matches_the_queryset_for_each_call():
    link = UserRoleFactory(role__name="Helpdesk")
    platform = PlatformAdminFactory()
    for user_id, role in ((link.user.id, "Helpdesk"), (link.user.id, "Other"), (platform.id, "Helpdesk")):
        expected = _users_with_role_flag(user_id, role).get()
        with CaptureQueriesContext(connection) as queries:
            kept = KEPT.first(user_id, role)
            organization = kept.organization  # filled by select_related, no query
        assert len(queries) == 1
        assert kept.has_role == expected.has_role
        assert (organization.name if organization else None) == (
            expected.organization.name if expected.organization else None
        )
        for name in FIELDS:
            assert getattr(kept, name) == getattr(expected, name), name
        assert not kept._state.adding and kept._state.db == "default"


def test_kept_query_returns_none_for_no_row_and_keeps_converters():
    assert KEPT.first(uuid.uuid4(), "Helpdesk") is None
    user = UserFactory()
    kept = KEPT.first(user.id, "x")
    assert kept.created_at.tzinfo is not None and kept.created_at == user.created_at
    assert kept.has_role is False


def test_placeholders_must_appear_once():
    bad = KeptQuery(lambda user_id: User.objects.filter(id=user_id) | User.objects.filter(id=user_id), uuid.UUID(int=0))
    with pytest.raises(ValueError, match="appears 2 times"):
        bad.first(uuid.uuid4())
    with pytest.raises(TypeError):
        KEPT.first(uuid.uuid4())


def test_kept_insert_stores_what_save_would_and_marks_the_instance_saved():
    from django.db.models.signals import post_save

    from bifrost_site.kept_queries import KeptInsert
    from executions.models import Execution

    kept = KeptInsert(Execution)
    execution = Execution(workflow_name="w", trigger="manual", parameters={"n": [1, "a"]}, celery_task_id="t")
    with CaptureQueriesContext(connection) as queries:
        kept.insert(execution)
    assert len(queries) == 1 and queries[0]["sql"].startswith("INSERT")
    assert not execution._state.adding and execution._state.db == "default"
    assert execution.created_at is not None and execution.updated_at is not None  # auto_now(_add) applied
    stored = Execution.objects.get(id=execution.id)
    for name in ("workflow_name", "trigger", "parameters", "status", "attempt", "created_at", "result"):
        assert getattr(stored, name) == getattr(execution, name), name

    seen = []

    def receiver(sender, instance, created, **kwargs):
        seen.append((instance.id, created))

    post_save.connect(receiver, sender=Execution)
    try:
        other = Execution(workflow_name="w", trigger="manual")
        assert kept.insert(other) is True
    finally:
        post_save.disconnect(receiver, sender=Execution)
    assert seen == [(other.id, True)]  # with a receiver connected it saves through Django, signals included
    with pytest.raises(TypeError):
        kept.insert(User())


@pytest.mark.parametrize("with_receiver", [False, True])
def test_kept_insert_only_if_checks_its_condition_in_the_same_statement(with_receiver):
    from django.db.models.signals import post_save

    from bifrost_site.kept_queries import KeptInsert
    from executions.models import Execution
    from orgs.tests.factories import OrganizationFactory

    kept = KeptInsert(Execution)
    user = UserFactory()
    condition = "EXISTS (SELECT 1 FROM accounts_user WHERE id = %s AND is_active)"
    if with_receiver:
        post_save.connect(_ignore, sender=Execution)
    try:
        execution = Execution(
            workflow_name="w",
            trigger="manual",
            organization=OrganizationFactory(),
            executed_by=user,
            executed_by_name=user.email,
            parameters={"n": [1, "a"], "none": None},
            celery_task_id="t",
        )
        with CaptureQueriesContext(connection) as queries:
            assert kept.insert(execution, only_if=(condition, [user.id])) is True
        if not with_receiver:  # the receiver's path checks first, then saves, in a savepoint
            assert len(queries) == 1 and queries[0]["sql"].startswith("INSERT")
        assert not execution._state.adding
        stored = Execution.objects.get(id=execution.id)
        for name in ("workflow_name", "organization_id", "executed_by_id", "parameters", "status", "created_at"):
            assert getattr(stored, name) == getattr(execution, name), name

        User.objects.filter(id=user.id).update(is_active=False)
        refused = Execution(workflow_name="w", trigger="manual", executed_by=user)
        assert kept.insert(refused, only_if=(condition, [user.id])) is False
        assert refused._state.adding and not Execution.objects.filter(id=refused.id).exists()
    finally:
        post_save.disconnect(_ignore, sender=Execution)


def _ignore(**kwargs):
    pass
