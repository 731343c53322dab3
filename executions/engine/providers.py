"""Running a data provider inside a worker (the web process never imports workspace code)."""

from __future__ import annotations

import uuid

from django.db import close_old_connections

from bifrost.decorators import normalize_options
from bifrost.errors import UserError
from bifrost.execution import GLOBAL_SCOPE, ExecutionContext, OrgInfo
from bifrost.masking import SecretMasker
from bifrost.runtime import activate
from executions.engine.runner import call_function
from executions.engine.runtime import DjangoRuntime


def run_data_provider(*, name: str, inputs: dict, organization_id: str | None) -> dict:
    """`{"options": [...]}` or `{"error": message}` (messages of non-UserErrors stay generic)."""
    from orgs.models import Organization
    from workflows.models import DataProvider
    from workflows.services.discovery import error_summary, load_specs

    close_old_connections()
    provider = DataProvider.objects.filter(name=name, is_available=True).first()
    if provider is None:
        return {"error": f"Data provider '{name}' is unavailable."}
    try:
        _, providers = load_specs(provider.source_path)
    except Exception as exc:
        return {"error": f"{provider.source_path} failed to import: {error_summary(exc).splitlines()[-1]}"}
    spec = providers.get(name)
    if spec is None:
        return {"error": f"Data provider '{name}' is no longer defined in {provider.source_path}."}
    org = Organization.objects.filter(id=organization_id).first() if organization_id else None
    context = ExecutionContext(
        execution_id=f"data-provider-{uuid.uuid4()}",
        organization=OrgInfo(id=str(org.id), name=org.name) if org else None,
        scope=str(org.id) if org else GLOBAL_SCOPE,
        user=None,
        executed_by_name="system:data-provider",
        is_platform_admin=False,
        trigger="manual",
        parameters=dict(inputs),
    )
    masker = SecretMasker()
    runtime = DjangoRuntime(context, masker=masker)
    try:
        with activate(runtime):
            value = call_function(spec, context, dict(inputs))
        options = normalize_options(value)
    except UserError as exc:
        return {"error": masker.mask(exc.message)}
    except Exception as exc:
        return {"error": masker.mask(f"{type(exc).__name__}: {exc}")}
    finally:
        runtime.close()
    return {"options": masker.mask_data(options)}
