"""The execution engine and data providers, as forms use them (owned by `executions`/`workflows`).

Imported lazily through `importlib` so the forms app loads without the engine, and so tests can
put a recording stand-in into `sys.modules` for these module names.
"""

from __future__ import annotations

from importlib import import_module


def execution_start(**kwargs):
    return import_module("executions.services").execution_start(**kwargs)


def execution_await(started):
    return import_module("executions.services").execution_await(started)


def execution_run_response(execution, *, request, accepted: bool):
    return import_module("executions.presenters").execution_run_response(execution, request=request, accepted=accepted)


def data_provider_options(*, name: str, inputs: dict, organization) -> tuple[list[dict], bool]:
    return import_module("workflows.services").data_provider_options(
        name=name, inputs=inputs, organization=organization
    )
