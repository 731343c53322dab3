"""A recording stand-in for the run services, for unit tests of form logic that need no run.

`install()` monkeypatches, for one test, the service boundary forms call: the start and await
services of `executions.services` and `workflows.services.data_provider_options` (never
`sys.modules`). The answer body comes from the real presenter (`executions.presenters`). It validates parameters
with the SDK against the Workflow row and writes real Execution rows, so what a test asserts
(parameters, trigger, form, user, organization) is what the engine receives. Runs on the real
engine and worker are in test_engine_e2e.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rest_framework import exceptions


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
        from executions import services as execution_services
        from workflows import services as workflow_services

        monkeypatch.setattr(execution_services, "execution_start", self.execution_start)
        monkeypatch.setattr(execution_services, "execution_await", self.execution_await)
        monkeypatch.setattr(workflow_services, "data_provider_options", self.data_provider_options)
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
        idempotency=None,
        run_at=None,
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
                "idempotency": idempotency,
                "run_at": run_at,
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
        execution.duration_ms = 0
        execution.save()
        return execution

    def data_provider_options(self, *, name, inputs, organization):
        self.provider_calls.append({"name": name, "inputs": inputs, "organization": organization})
        if name not in self.providers:
            raise exceptions.NotFound(f"Data provider '{name}' not found.")
        return self.providers[name](inputs), False
