"""Workflows and a data provider the forms end-to-end tests run on the real worker."""

from bifrost import data_provider, param, workflow


@data_provider(name="licences", description="Licences")
@param("tier", type="string", required=True)
def licences(tier):
    return [{"label": f"{tier} A", "value": "lic_a"}, {"label": f"{tier} B", "value": "lic_b"}]


@workflow(name="onboard_user", description="Onboard", execution_mode="sync", timeout_seconds=30)
@param("email", type="email", required=True)
@param("licence", type="string")
@param("manager_email", type="email")
def onboard_user(context, email, licence=None, manager_email=None):
    return {"email": email, "licence": licence, "manager": manager_email, "by": context.executed_by_name}


@workflow(name="onboard_later", description="Onboard (async)", execution_mode="async", timeout_seconds=30)
@param("email", type="email", required=True)
def onboard_later(email):
    return {"queued_for": email}


@workflow(name="prepare", description="Launch", execution_mode="sync", timeout_seconds=30)
@param("tenant", type="string", required=True)
def prepare(tenant):
    return {"tenant": tenant, "roles": ["admin"]}
