"""Using a form: startup, submission, data providers, uploads, public forms (engine stand-in)."""

import datetime as dt

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.authentication import DEV_BYPASS
from accounts.tests.factories import RoleFactory, UserFactory, UserRoleFactory
from conftest import client_for
from executions.models import Execution
from forms_app.models import FormUpload
from forms_app.services import form_uploads_prune
from forms_app.tests.factories import FormFactory, FormRoleFactory, FormUploadFactory
from forms_app.tests.test_api import FIELDS, registry  # noqa: F401  (fixture)

pytestmark = pytest.mark.django_db


@pytest.fixture
def onboard(registry, org):  # noqa: F811
    form = FormFactory(organization=org, workflow="onboard_user", schema={"fields": FIELDS})
    role = RoleFactory(organization=org, name="Helpdesk")
    FormRoleFactory(form=form, role=role)
    return form, role


@pytest.fixture
def holder(onboard):
    return UserRoleFactory(role=onboard[1]).user


def submit(client, form, data, **extra):
    return client.post(f"/api/forms/{form.id}/submit", {"form_data": data, **extra}, format="json")


def test_valid_submission_runs_workflow_with_visible_fields(engine, onboard, holder, org):
    form, _ = onboard
    response = submit(
        client_for(holder),
        form,
        {"email": "a@b.test", "licence": "lic_a", "has_manager": False, "manager_email": "ignored"},
    )
    assert response.status_code == 200, response.json()
    call = engine.calls[-1]
    assert call["trigger"] == "form" and call["form"] == form and call["user"] == holder
    assert call["organization"] == org and call["executed_by_name"] == holder.email
    assert call["parameters"] == {"email": "a@b.test", "licence": "lic_a", "has_manager": False}
    execution = Execution.objects.get(id=response.json()["execution_id"])
    assert execution.executed_by == holder and execution.form == form
    assert response.json()["result"] == {"received": call["parameters"]}
    # the data provider was asked with the field's static inputs, in the form's organization
    assert engine.provider_calls[-1] == {"name": "licences", "inputs": {"tier": "gold"}, "organization": org}


def test_missing_required_visible_field_is_400_and_hidden_required_is_not_demanded(engine, onboard, holder):
    form, _ = onboard
    client = client_for(holder)
    response = submit(client, form, {"licence": "lic_a", "has_manager": True})
    assert response.status_code == 400
    details = response.json()["details"]["form_data"]
    assert set(details) == {"email", "manager_email"}
    assert details["email"] == ["This field is required."]
    response = submit(client, form, {"email": "a@b.test", "licence": "lic_a"})
    assert response.status_code == 200, response.json()
    assert "manager_email" not in engine.calls[-1]["parameters"]


def test_select_value_must_be_among_provider_options(engine, onboard, holder):
    form, _ = onboard
    response = submit(client_for(holder), form, {"email": "a@b.test", "licence": "lic_zzz"})
    assert response.status_code == 400
    assert "licence" in response.json()["details"]["form_data"]
    assert engine.calls == []


@pytest.mark.parametrize(
    ("field", "value", "ok", "expected"),
    [
        ({"type": "number"}, "12", True, 12),
        ({"type": "number"}, "1.5", True, 1.5),
        ({"type": "number"}, "abc", False, None),
        ({"type": "number"}, True, False, None),
        ({"type": "number", "validation": {"min": 1, "max": 5, "message": "1 to 5 please"}}, 9, False, "1 to 5 please"),
        ({"type": "email"}, "not-an-email", False, None),
        ({"type": "date"}, "2024-02-30", False, None),
        ({"type": "date"}, "2024-02-28", True, "2024-02-28"),
        ({"type": "datetime"}, "2024-02-28T10:30", True, "2024-02-28T10:30:00"),
        ({"type": "checkbox"}, "on", True, True),
        ({"type": "checkbox"}, None, True, False),
        (
            {"type": "text", "validation": {"pattern": "[A-Z]{3}", "message": "Three capitals"}},
            "ABCD",
            False,
            "Three capitals",
        ),
        ({"type": "text", "validation": {"pattern": "[A-Z]{3}"}}, "ABC", True, "ABC"),
        ({"type": "text", "validation": {"max": 3}}, "abcd", False, None),
        (
            {"type": "multi_select", "options": [{"label": "A", "value": "a"}, {"label": "B", "value": 2}]},
            ["a", "2"],
            True,
            ["a", 2],
        ),
        ({"type": "multi_select", "options": [{"label": "A", "value": "a"}]}, "a", True, ["a"]),
        ({"type": "multi_select", "options": [{"label": "A", "value": "a"}]}, ["a", "x"], False, None),
        ({"type": "radio", "options": [{"label": "A", "value": "a"}]}, ["a"], False, None),
    ],
)
def test_types_and_validation(engine, admin_user, org, field, value, ok, expected):
    from workflows.tests.factories import WorkflowFactory

    param_type = {
        "number": "float",
        "date": "date",
        "datetime": "datetime",
        "checkbox": "bool",
        "multi_select": "list",
    }.get(field["type"], "string")
    WorkflowFactory(name="typed", parameters=[{"name": "v", "type": param_type}])
    form = FormFactory(organization=org, workflow="typed", schema={"fields": [{"name": "v", **field}]})
    response = submit(client_for(admin_user, org), form, {"v": value})
    if ok:
        assert response.status_code == 200, response.json()
        assert engine.calls[-1]["parameters"]["v"] == expected
    else:
        assert response.status_code == 400, response.json()
        messages = response.json()["details"]["form_data"]["v"]
        if expected:
            assert messages == [expected]


def test_engine_parameter_errors_pass_through(engine, registry, admin_user, org):  # noqa: F811
    form = FormFactory(
        organization=org, workflow="onboard_user", schema={"fields": [{"name": "licence", "type": "text"}]}
    )
    response = submit(client_for(admin_user, org), form, {"licence": "x"})
    assert response.status_code == 400
    assert "email" in response.json()["details"]


def test_async_submission_is_202_with_execution_id(engine, onboard, holder):
    engine.mode = "async"
    form, _ = onboard
    response = submit(client_for(holder), form, {"email": "a@b.test", "licence": "lic_b"})
    assert response.status_code == 202
    assert Execution.objects.filter(id=response.json()["execution_id"], status="Pending").exists()


def test_inactive_form_runnable_by_admin_not_by_users(engine, onboard, holder, admin_user, org):
    form, _ = onboard
    form.is_active = False
    form.save()
    assert submit(client_for(holder), form, {"email": "a@b.test", "licence": "lic_a"}).status_code == 404
    response = submit(client_for(admin_user, org), form, {"email": "a@b.test", "licence": "lic_a"})
    assert response.status_code == 200
    assert engine.calls[-1]["user"] == admin_user


def test_same_org_without_role_and_other_org_get_404_on_every_use_endpoint(engine, onboard, outsider_client, org):
    form, _ = onboard
    plain = client_for(UserFactory(organization=org))
    for client in (plain, outsider_client):
        assert submit(client, form, {}).status_code == 404
        assert client.post(f"/api/forms/{form.id}/startup", {}, format="json").status_code == 404
        assert client.post(f"/api/forms/{form.id}/data-providers/licences", {}, format="json").status_code == 404
        upload = client.post(
            f"/api/forms/{form.id}/uploads",
            {"field": "x", "file": SimpleUploadedFile("a.txt", b"x")},
            format="multipart",
        )
        assert upload.status_code == 404
    assert engine.calls == [] and engine.provider_calls == []


# --- public forms -------------------------------------------------------------------------------


@pytest.fixture
def public_form(registry, org):  # noqa: F811
    return FormFactory(
        organization=None,
        workflow="hello_world",
        access_level="public",
        schema={"fields": [{"name": "name", "type": "text", "required": True}]},
    )


def test_public_form_works_anonymously(engine, public_form, api_client):
    response = submit(api_client, public_form, {"name": "Ada"})
    assert response.status_code == 200, response.json()
    call = engine.calls[-1]
    assert call["user"] is None and call["executed_by_name"] == "public:anonymous"
    assert call["organization"] is None


def test_public_org_form_runs_in_its_organization(engine, registry, org, api_client):  # noqa: F811
    form = FormFactory(
        organization=org,
        workflow="hello_world",
        access_level="public",
        schema={"fields": [{"name": "name", "type": "text"}]},
    )
    assert submit(api_client, form, {"name": "x"}).status_code == 200
    assert engine.calls[-1]["organization"] == org
    # a signed-in user of another organization uses it as the public does
    outsider = UserFactory()
    assert submit(client_for(outsider), form, {"name": "x"}).status_code == 200
    assert engine.calls[-1]["executed_by_name"] == "public:anonymous"


def test_dev_bypass_does_not_apply_to_public_forms(engine, public_form, api_client, settings, org):
    from accounts.tests.factories import PlatformAdminFactory

    settings.ENVIRONMENT, settings.DEV_AUTH_BYPASS = "development", True
    dev_admin = PlatformAdminFactory(email=settings.DEV_USER_EMAIL.lower())
    assert api_client.get("/api/forms").status_code == 200  # the bypass is on
    response = submit(api_client, public_form, {"name": "x"})
    assert response.status_code == 200
    assert engine.calls[-1]["user"] is None and engine.calls[-1]["executed_by_name"] == "public:anonymous"
    # a non-public form still works through the bypass, as the dev admin
    private = FormFactory(
        organization=None,
        workflow="hello_world",
        access_level="authenticated",
        schema={"fields": [{"name": "name", "type": "text"}]},
    )
    assert submit(api_client, private, {"name": "x"}).status_code == 200
    assert engine.calls[-1]["user"] == dev_admin
    assert DEV_BYPASS == "dev-bypass"


def test_public_forms_are_rate_limited(engine, public_form, api_client, settings, monkeypatch):
    """Independent of load and of the wall clock (issue 18 #20): the throttle's clock is fixed, the
    client address is this test's own, and the rate store gets time enough to answer on a busy
    machine (the throttle fails open when Redis does not answer in time, which let a third submit
    through under load)."""
    from forms_app.api.views import PublicFormThrottle

    settings.CACHES = {
        **settings.CACHES,
        "default": {**settings.CACHES["default"], "OPTIONS": {"socket_connect_timeout": 30, "socket_timeout": 30}},
    }
    now = [1_000_000.0]
    monkeypatch.setattr(PublicFormThrottle, "timer", staticmethod(lambda: now[0]))
    monkeypatch.setattr(PublicFormThrottle, "THROTTLE_RATES", {**PublicFormThrottle.THROTTLE_RATES, "public": "2/min"})
    address = "192.0.2.20"  # TEST-NET-1: no other test shares its counter

    def attempt():
        return api_client.post(
            f"/api/forms/{public_form.id}/submit", {"form_data": {"name": "x"}}, format="json", REMOTE_ADDR=address
        )

    first, second, third = attempt(), attempt(), attempt()
    assert [first.status_code, second.status_code, third.status_code] == [200, 200, 429]
    assert third["Retry-After"] == "60"
    now[0] += 59
    assert attempt().status_code == 429
    now[0] += 2  # the first two submits have left the one-minute window
    assert attempt().status_code == 200


def test_inactive_public_form_is_404_to_anonymous(engine, public_form, api_client):
    public_form.is_active = False
    public_form.save()
    assert api_client.get(f"/api/forms/{public_form.id}").status_code == 401


# --- startup ------------------------------------------------------------------------------------


def test_startup_merges_defaults_values_and_allowed_query(engine, registry, admin_user, org):  # noqa: F811
    form = FormFactory(
        organization=org,
        access_level="authenticated",
        launch_workflow="prepare",
        default_launch_params={"tenant": "default", "x": 1},
        allowed_query_params=["tenant"],
        schema={"fields": [{"name": "x", "type": "number", "allow_as_query_param": True}]},
    )
    member = UserFactory(organization=org)
    response = client_for(member).post(
        f"/api/forms/{form.id}/startup",
        {"form_data": {"x": 2, "junk": 1}, "query": {"tenant": "from-url", "x": "3", "evil": "1"}},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert engine.calls[-1]["parameters"] == {"tenant": "from-url", "x": "3"}
    assert response.json() == {"result": {"received": {"tenant": "from-url", "x": 3}}}


def test_startup_without_launch_workflow_is_empty(engine, onboard, holder):
    form, _ = onboard
    response = client_for(holder).post(f"/api/forms/{form.id}/startup", {}, format="json")
    assert response.status_code == 200 and response.json() == {}
    assert engine.calls == []


def test_startup_failure_is_a_clear_400(engine, registry, org):  # noqa: F811
    engine.fail["prepare"] = ("RuntimeError", "database password is hunter2")
    form = FormFactory(
        organization=org, access_level="authenticated", launch_workflow="prepare", default_launch_params={"tenant": "t"}
    )
    response = client_for(UserFactory(organization=org)).post(f"/api/forms/{form.id}/startup", {}, format="json")
    assert response.status_code == 400
    assert response.json()["error"] == "launch_failed"
    assert "hunter2" not in response.json()["message"]
    engine.fail["prepare"] = ("UserError", "Tenant is locked")
    response = client_for(UserFactory(organization=org)).post(f"/api/forms/{form.id}/startup", {}, format="json")
    assert "Tenant is locked" in response.json()["message"]
    response = client_for(UserFactory(organization=org)).post(
        f"/api/forms/{form.id}/startup", {"query": [1]}, format="json"
    )
    assert response.status_code == 400


# --- data providers -----------------------------------------------------------------------------


def test_data_provider_inputs_are_resolved_on_the_server(engine, registry, org, admin_user):  # noqa: F811
    fields = [
        {"name": "tier", "type": "text"},
        {
            "name": "by_ref",
            "type": "select",
            "data_provider": "licences",
            "data_provider_inputs": {"tier": {"mode": "field_ref", "field": "tier"}},
        },
        {
            "name": "by_expr",
            "type": "select",
            "data_provider": "licences",
            "data_provider_inputs": {
                "tier": {
                    "mode": "expression",
                    "expression": {"cat": [{"var": "query.region"}, "-", {"var": "field.tier"}]},
                }
            },
        },
    ]
    form = FormFactory(organization=org, access_level="authenticated", schema={"fields": fields})
    client = client_for(UserFactory(organization=org))
    url = f"/api/forms/{form.id}/data-providers/licences"
    response = client.post(url, {"form_data": {"tier": "silver"}}, format="json")
    assert response.status_code == 200, response.json()
    assert response.json()["options"][0] == {"label": "silver A", "value": "lic_a"}
    assert engine.provider_calls[-1]["inputs"] == {"tier": "silver"}
    client.post(url, {"field": "by_expr", "form_data": {"tier": "gold"}, "query": {"region": "eu"}}, format="json")
    assert engine.provider_calls[-1]["inputs"] == {"tier": "eu-gold"}
    assert client.post(url, {"field": "tier"}, format="json").status_code == 400
    assert client.post(f"/api/forms/{form.id}/data-providers/other", {}, format="json").status_code == 404


# --- uploads ------------------------------------------------------------------------------------


@pytest.fixture
def upload_form(registry, org):  # noqa: F811
    from workflows.tests.factories import WorkflowFactory

    WorkflowFactory(name="ingest", parameters=[{"name": "docs", "type": "list"}])
    return FormFactory(
        organization=org,
        workflow="ingest",
        access_level="authenticated",
        schema={
            "fields": [
                {
                    "name": "docs",
                    "type": "file",
                    "required": True,
                    "multiple": True,
                    "allowed_types": [".pdf", "text/plain"],
                    "max_size_mb": 1,
                }
            ]
        },
    )


def test_upload_then_submit_passes_file_descriptions(engine, upload_form, org, settings):
    member = UserFactory(organization=org)
    client = client_for(member)
    url = f"/api/forms/{upload_form.id}/uploads"
    response = client.post(
        url, {"field": "docs", "file": SimpleUploadedFile("notes.txt", b"hello", "text/html")}, format="multipart"
    )
    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["content_type"] == "text/plain"  # from the name, never the client's header
    upload = FormUpload.objects.get(id=body["id"])
    assert upload.organization == org and upload.uploaded_by == member
    assert upload.file.path.startswith(str(settings.MEDIA_ROOT / "uploads" / str(org.id)))

    response = submit(client, upload_form, {"docs": [body["id"]]})
    assert response.status_code == 200, response.json()
    docs = engine.calls[-1]["parameters"]["docs"]
    assert docs == [{"name": "notes.txt", "content_type": "text/plain", "size": 5, "path": upload.file.path}]


def test_upload_checks(engine, upload_form, org):
    client = client_for(UserFactory(organization=org))
    url = f"/api/forms/{upload_form.id}/uploads"
    bad_type = client.post(
        url, {"field": "docs", "file": SimpleUploadedFile("x.html", b"<script>", "text/plain")}, format="multipart"
    )
    assert bad_type.status_code == 400 and "file" in bad_type.json()["details"]
    too_big = client.post(
        url, {"field": "docs", "file": SimpleUploadedFile("x.pdf", b"0" * (1024 * 1024 + 1))}, format="multipart"
    )
    assert too_big.status_code == 400 and "1 MB" in too_big.json()["details"]["file"][0]
    not_file = client.post(url, {"field": "nope", "file": SimpleUploadedFile("x.pdf", b"0")}, format="multipart")
    assert not_file.status_code == 400 and "field" in not_file.json()["details"]
    assert client.post(url, {"field": "docs"}).status_code == 400


def test_submission_refuses_uploads_of_other_forms_or_users(engine, upload_form, org):
    other = FormUploadFactory(form=FormFactory(organization=org), field_name="docs")
    someone_elses = FormUploadFactory(form=upload_form, field_name="docs", uploaded_by=UserFactory(organization=org))
    client = client_for(UserFactory(organization=org))
    for upload_id in (str(other.id), str(someone_elses.id), "garbage"):
        response = submit(client, upload_form, {"docs": [upload_id]})
        assert response.status_code == 400, upload_id
        assert "docs" in response.json()["details"]["form_data"]


def test_uploads_are_pruned_after_retention(db, settings):
    settings.UPLOAD_RETENTION_DAYS = 7
    old, fresh = FormUploadFactory(), FormUploadFactory()
    FormUpload.objects.filter(id=old.id).update(created_at=timezone.now() - dt.timedelta(days=8))
    path = old.file.path
    assert form_uploads_prune() == 1
    assert list(FormUpload.objects.values_list("id", flat=True)) == [fresh.id]
    import os

    assert not os.path.exists(path)


def test_prune_is_a_periodic_task():
    from bifrost_site.periodic import PERIODIC_TASKS
    from forms_app.tasks import prune_uploads_task

    assert any(spec.task == prune_uploads_task.name for spec in PERIODIC_TASKS)
