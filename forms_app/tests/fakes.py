"""A recording stand-in for the engine's interfaces while the engine (issue 4) is not merged.

It is installed into `sys.modules` under the real module names (`executions.services`,
`executions.presenters`, `workflows.services`), which is where `forms_app.engine` looks them up.
It validates parameters with the SDK against the Workflow row and writes real Execution rows, so
what a test asserts (parameters, trigger, form, user, organization) is what the engine receives.
"""

from __future__ import annotations

import sys
import types
from dataclasses import dataclass, field
from typing import Any

from rest_framework import exceptions, status
from rest_framework.response import Response


@dataclass
class Started:
    execution: Any
    mode: str


@dataclass
class FakeEngine:
    mode: str = "sync"
    providers: dict = field(default_factory=dict)  # name -> callable(inputs) -> options
    results: dict = field(default_factory=dict)  # workflow name -> callable(params) -> result
    fail: dict = field(default_factory=dict)  # workflow name -> (error_type, message)
    calls: list = field(default_factory=list)
    provider_calls: list = field(default_factory=list)

    def install(self, monkeypatch) -> FakeEngine:
        services = types.ModuleType("executions.services")
        services.execution_start = self.execution_start
        services.execution_await = self.execution_await
        presenters = types.ModuleType("executions.presenters")
        presenters.execution_run_response = self.execution_run_response
        workflow_services = types.ModuleType("workflows.services")
        workflow_services.data_provider_options = self.data_provider_options
        monkeypatch.setitem(sys.modules, "executions.services", services)
        monkeypatch.setitem(sys.modules, "executions.presenters", presenters)
        monkeypatch.setitem(sys.modules, "workflows.services", workflow_services)
        return self

    def execution_start(
        self,
        *,
        workflow_name,
        parameters,
        trigger,
        organization=None,
        user=None,
        executed_by_name=None,
        form=None,
        rerun_of=None,
    ):
        from bifrost.errors import ParameterValidationError
        from bifrost.params import coerce_parameters
        from executions.models import Execution
        from workflows.models import Workflow

        self.calls.append(
            {
                "workflow_name": workflow_name,
                "parameters": parameters,
                "trigger": trigger,
                "organization": organization,
                "user": user,
                "executed_by_name": executed_by_name,
                "form": form,
            }
        )
        workflow = Workflow.objects.filter(name=workflow_name).first()
        if workflow is None:
            raise exceptions.NotFound(f"Workflow '{workflow_name}' not found.")
        try:
            coerced = coerce_parameters(workflow.parameters, parameters)
        except ParameterValidationError as exc:
            raise exceptions.ValidationError(exc.errors) from None
        execution = Execution.objects.create(
            workflow_name=workflow_name,
            parameters=coerced,
            trigger=trigger,
            organization=organization,
            executed_by=user,
            executed_by_name=executed_by_name or (user.email if user else ""),
            form=form,
        )
        return Started(execution=execution, mode=self.mode)

    def execution_await(self, started):
        from django.utils import timezone

        execution = started.execution
        if execution.workflow_name in self.fail:
            execution.error_type, execution.error_message = self.fail[execution.workflow_name]
            execution.status = "Failed"
        else:
            produce = self.results.get(execution.workflow_name, lambda params: {"received": params})
            execution.result = produce(execution.parameters)
            execution.result_type = "json"
            execution.status = "Success"
        execution.started_at = execution.completed_at = timezone.now()
        execution.save()
        return execution

    def execution_run_response(self, execution, *, request, accepted):
        if accepted or execution.status in ("Pending", "Running"):
            return Response(
                {"execution_id": str(execution.id), "status": execution.status}, status=status.HTTP_202_ACCEPTED
            )
        return Response(
            {
                "execution_id": str(execution.id),
                "status": execution.status,
                "result": execution.result,
                "result_type": execution.result_type,
            }
        )

    def data_provider_options(self, *, name, inputs, organization):
        self.provider_calls.append({"name": name, "inputs": inputs, "organization": organization})
        if name not in self.providers:
            raise exceptions.NotFound(f"Data provider '{name}' not found.")
        return self.providers[name](inputs), False
