"""The execution engine and data providers, as forms use them (owned by `executions`/`workflows`).

One module to look through: unit tests of form logic that need no run monkeypatch the functions
here (`monkeypatch.setattr(forms_app.engine, "execution_start", ...)`); end-to-end tests use the
real engine and a real worker.
"""

from __future__ import annotations


def execution_start(**kwargs):
    from executions.services import execution_start

    return execution_start(**kwargs)


def execution_await(started):
    from executions.services import execution_await

    return execution_await(started)


def execution_run_response(execution, *, request, accepted: bool):
    from executions.presenters import execution_run_response

    return execution_run_response(execution, request=request, accepted=accepted)


def data_provider_options(*, name: str, inputs: dict, organization) -> tuple[list[dict], bool]:
    from workflows.services import data_provider_options

    return data_provider_options(name=name, inputs=inputs, organization=organization)
