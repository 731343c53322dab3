import pytest

from bifrost_site.scope import RequestScope
from executions.selectors import (
    GENERIC_ERROR_MESSAGE,
    execution_error_visible,
    execution_logs_visible,
    execution_visible,
    execution_visible_in_scope,
    executions_visible_to,
)
from executions.tests.factories import ExecutionFactory, ExecutionLogFactory

pytestmark = pytest.mark.django_db


def names(queryset):
    return sorted(e.workflow_name for e in queryset)


def test_global_admin_sees_every_organization(executions_world, admin_user):
    assert names(executions_visible_to(RequestScope.for_user(admin_user))) == [
        "colleague",
        "global_run",
        "mine",
        "other_org",
    ]


def test_admin_in_an_organization_sees_only_that_organization(executions_world, admin_user, org):
    assert names(executions_visible_to(RequestScope(user=admin_user, organization=org))) == ["colleague", "mine"]


def test_org_user_sees_only_their_own(executions_world, member, outsider):
    assert names(executions_visible_to(RequestScope.for_user(member))) == ["mine"]
    assert names(executions_visible_to(RequestScope.for_user(outsider))) == ["other_org"]


def test_no_scope_or_anonymous_sees_nothing(executions_world):
    from django.contrib.auth.models import AnonymousUser

    assert not executions_visible_to(None).exists()
    assert not executions_visible_to(RequestScope(user=AnonymousUser(), organization=None)).exists()


def test_execution_visible_tolerates_malformed_ids(executions_world, member):
    scope = RequestScope.for_user(member)
    assert execution_visible(scope, "not-a-uuid") is None
    assert execution_visible(scope, executions_world["colleague"].id) is None
    assert execution_visible(scope, executions_world["mine"].id) == executions_world["mine"]


def test_event_visibility_matches_the_queryset_rule(executions_world, admin_user, member, outsider, org):
    scopes = [
        RequestScope.for_user(admin_user),
        RequestScope(user=admin_user, organization=org),
        RequestScope.for_user(member),
        RequestScope.for_user(outsider),
    ]
    for scope in scopes:
        visible = set(executions_visible_to(scope).values_list("id", flat=True))
        for execution in executions_world.values():
            by_event = execution_visible_in_scope(
                organization_id=execution.organization_id, executed_by_id=execution.executed_by_id, scope=scope
            )
            assert by_event == (execution.id in visible), (scope, execution.workflow_name)


def test_logs_hide_debug_and_traceback_from_org_users(member, admin_user, org):
    execution = ExecutionFactory(organization=org, executed_by=member)
    for sequence, level in enumerate(["info", "debug", "warning", "traceback", "error"], start=1):
        ExecutionLogFactory(execution=execution, sequence=sequence, level=level)
    member_levels = [line.level for line in execution_logs_visible(execution, RequestScope.for_user(member))]
    admin_levels = [line.level for line in execution_logs_visible(execution, RequestScope.for_user(admin_user))]
    assert member_levels == ["info", "warning", "error"]
    assert admin_levels == ["info", "debug", "warning", "traceback", "error"]
    after = execution_logs_visible(execution, RequestScope.for_user(admin_user), after=3)
    assert [line.sequence for line in after] == [4, 5]


@pytest.mark.parametrize(
    ("error_type", "message", "member_sees"),
    [
        ("UserError", "The mailbox already exists", ("The mailbox already exists", "UserError")),
        ("ValueError", "secret internal detail", (GENERIC_ERROR_MESSAGE, "")),
        ("", "", ("", "")),
    ],
)
def test_error_visibility(member, admin_user, org, error_type, message, member_sees):
    execution = ExecutionFactory(organization=org, executed_by=member, error_type=error_type, error_message=message)
    assert execution_error_visible(execution, RequestScope.for_user(member)) == member_sees
    assert execution_error_visible(execution, RequestScope.for_user(admin_user)) == (message, error_type)
