"""The request path of list endpoints: django-filter's backend with our filtersets, the middleware chain under ASGI."""

import django_filters
import pytest
from django.test import AsyncClient
from django_filters.rest_framework import DjangoFilterBackend
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.test import APIRequestFactory

from executions.filtersets import ExecutionFilterSet
from executions.models import Execution, ExecutionStatus
from executions.tests.factories import ExecutionFactory


class View:
    def __init__(self, filterset_class):
        self.filterset_class = filterset_class


def filtered(filterset_class, query: str, queryset=None):
    request = Request(APIRequestFactory().get(f"/api/executions{query}"))
    queryset = Execution.objects.all() if queryset is None else queryset
    return DjangoFilterBackend().filter_queryset(request, queryset, View(filterset_class))


@pytest.mark.django_db
def test_a_filter_parameter_still_filters_and_validates(org, member):
    running = ExecutionFactory(organization=org, executed_by=member, status=ExecutionStatus.RUNNING)
    ExecutionFactory(organization=org, executed_by=member, status=ExecutionStatus.SUCCESS)
    assert list(filtered(ExecutionFilterSet, "?status=Running&limit=5")) == [running]
    assert list(filtered(ExecutionFilterSet, f"?executed_by={member.id}").order_by("status")) != []
    with pytest.raises(ValidationError):
        filtered(ExecutionFilterSet, "?status=Nope")
    with pytest.raises(ValidationError):  # a name with an underscore in it
        filtered(ExecutionFilterSet, "?started_after=not-a-date")


class RangeFilterSet(django_filters.FilterSet):
    duration = django_filters.RangeFilter(field_name="duration_ms")


class RequiredFilterSet(django_filters.FilterSet):
    workflow_name = django_filters.CharFilter(required=True)


class OwnFilter(django_filters.CharFilter):
    def filter(self, qs, value):
        return qs.filter(workflow_name=value or "default")


class OwnFilterSet(django_filters.FilterSet):
    workflow_name = OwnFilter()


@pytest.mark.django_db
def test_range_parameters_filter(org, member):
    short = ExecutionFactory(organization=org, executed_by=member, duration_ms=5)
    ExecutionFactory(organization=org, executed_by=member, duration_ms=500)
    assert list(filtered(RangeFilterSet, "?duration_max=10")) == [short]


@pytest.mark.django_db
def test_filtersets_that_act_without_parameters_are_always_built(org, member):
    ExecutionFactory(organization=org, executed_by=member, workflow_name="other")
    with pytest.raises(ValidationError):
        filtered(RequiredFilterSet, "?limit=5")
    default = ExecutionFactory(organization=org, executed_by=member, workflow_name="default")
    assert list(filtered(OwnFilterSet, "?limit=5")) == [default]


async def test_under_asgi_the_whole_middleware_chain_runs():
    """Under daphne the chain runs in the request's thread (SyncChainMiddleware, last in MIDDLEWARE); every
    middleware still acts: the request id comes back, the security headers and the CSP are set."""
    client = AsyncClient(SERVER_NAME="localhost")
    response = await client.get("/health/live", headers={"X-Request-ID": "asgi-chain-1"})
    assert response.status_code == 200
    assert response["X-Request-ID"] == "asgi-chain-1"
    assert response["X-Frame-Options"] == "DENY"
    assert "default-src 'self'" in response["Content-Security-Policy"]
