"""Reads of approvals: who sees and who decides (DESIGN §4, §16).

`approvals_visible_to(scope)` starts from the tenancy choke point (`for_scope`, ACTIVITY: a platform admin
without an organization sees every organization's approvals, with one only that organization's; an ORG user
only their own organization's) and narrows it for everyone but platform admins to the approvals they
requested or may decide (they hold one of the approver roles).

Platform users who are not admins (MSP staff) have no organization, so `for_scope` gives them nothing; they
hold GLOBAL roles only (accounts.models.role_holding_problem), and a GLOBAL approver role makes them an
approver for every organization: they see, in every organization, the requests naming one of their roles
(and their own requests).
"""

from __future__ import annotations

from django.db.models import Exists, OuterRef, Q, QuerySet

from approvals.models import Approval


def user_role_ids(user) -> list:
    """The active roles a user holds (their organization's and GLOBAL ones; MSP staff: GLOBAL ones only)."""
    from accounts.models import UserRole

    if user is None or not getattr(user, "is_authenticated", False):
        return []
    held = UserRole.objects.filter(user_id=user.pk, role__is_active=True)
    if is_platform_staff(user):
        held = held.filter(role__organization__isnull=True)
    return list(held.values_list("role_id", flat=True))


def _holds_approver_role(role_ids) -> Exists:
    through = Approval.approver_roles.through
    return Exists(through.objects.filter(approval_id=OuterRef("pk"), role_id__in=role_ids))


def is_platform_staff(user) -> bool:
    """A platform user who is not a platform admin (MSP staff): approves through GLOBAL roles, everywhere."""
    from accounts.models import UserType

    return (
        getattr(user, "is_authenticated", False)
        and getattr(user, "user_type", None) == UserType.PLATFORM
        and not getattr(user, "is_platform_admin", False)
    )


def approvals_visible_to(scope) -> QuerySet[Approval]:
    queryset = Approval.objects.for_scope(scope)
    if scope is None or not getattr(scope.user, "is_authenticated", False):
        return queryset.none()
    if scope.is_platform_admin:
        return queryset
    if is_platform_staff(scope.user):
        queryset = Approval.objects.all()  # every organization, narrowed to their roles and requests below
    role_ids = user_role_ids(scope.user)
    return queryset.filter(Q(requested_by_id=scope.user.pk) | _holds_approver_role(role_ids))


def approvals_decidable_by(scope) -> QuerySet[Approval]:
    """Pending approvals the scope's user may decide: visible, not their own request."""
    from approvals.models import ApprovalStatus

    queryset = approvals_visible_to(scope).filter(status=ApprovalStatus.PENDING)
    if scope is None or not getattr(scope.user, "is_authenticated", False):
        return queryset
    queryset = queryset.exclude(requested_by_id=scope.user.pk)
    if not scope.is_platform_admin:
        queryset = queryset.filter(_holds_approver_role(user_role_ids(scope.user)))
    return queryset


def approval_visible(scope, approval_id) -> Approval | None:
    from django.core.exceptions import ValidationError

    try:
        return approvals_visible_to(scope).select_related("execution", "organization").get(id=approval_id)
    except (Approval.DoesNotExist, ValidationError, ValueError, TypeError):
        return None


def approval_of_visible_execution(scope, execution_id) -> tuple:
    """(execution, approval) for the run page's approval block: the run as the page sees it (the executions
    selector: another organization's run, or an ORG user's colleague's, is None), and its approval or None."""
    from executions.selectors import execution_visible

    execution = execution_visible(scope, execution_id)
    if execution is None:
        return None, None
    return execution, Approval.objects.filter(execution_id=execution.pk).first()


def user_may_decide(user, approval: Approval) -> bool:
    """An approver of this request (four eyes: never the requester). Tenancy is the caller's selector's."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if approval.requested_by_id is not None and approval.requested_by_id == user.pk:
        return False
    if getattr(user, "is_platform_admin", False):
        return True
    if not is_platform_staff(user) and approval.organization_id != getattr(user, "organization_id", None):
        return False  # ORG users decide their own organization's requests only (MSP staff: every one)
    role_ids = set(user_role_ids(user))
    return bool(role_ids & {role.pk for role in approval.approver_roles.all()})


def approver_emails(approval: Approval) -> list[str]:
    """Who may decide this request (for the email): active holders of an approver role in the request's
    organization (ORG users of another organization never decide), and platform admins; never the requester."""
    from accounts.models import User

    holders = Q(roles__in=approval.approver_roles.all(), roles__is_active=True) & (
        Q(organization__isnull=True) | Q(organization_id=approval.organization_id)
    )
    users = User.objects.filter(holders | Q(is_platform_admin=True), is_active=True)
    if approval.requested_by_id is not None:
        users = users.exclude(pk=approval.requested_by_id)
    return sorted(set(users.values_list("email", flat=True)))
