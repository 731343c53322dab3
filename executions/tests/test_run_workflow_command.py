"""`manage.py run_workflow` (issue 18 item 17): `--org` takes an id, a name or a domain; refusals are one
clean line (never a traceback or `ErrorDetail(string=...)`); every run prints its page's URL."""

import json
import subprocess
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from bifrost_site.testing.engine import REPO_ROOT, process_env
from executions.models import Execution
from orgs.tests.factories import OrganizationFactory
from workflows.tests.factories import WorkflowFactory

PARAMETERS = [
    {"name": "display_name", "type": "string", "required": True},
    {"name": "count", "type": "int", "required": False, "default_value": 1},
]


def run(*args, capsys):
    call_command("run_workflow", *args)
    out, err = capsys.readouterr()
    return json.loads(out), err


@pytest.fixture
def contoso(db):
    return OrganizationFactory(name="Contoso", domain="contoso.com")


@pytest.fixture
def onboard(db):
    return WorkflowFactory(name="onboard_user", execution_mode="async", parameters=PARAMETERS)


@pytest.mark.django_db
@pytest.mark.parametrize("reference", ["Contoso", "contoso", "contoso.com", "CONTOSO.COM", "@contoso.com", "id"])
def test_org_is_found_by_id_name_or_domain(contoso, onboard, capsys, reference):
    reference = str(contoso.id) if reference == "id" else reference
    payload, err = run("onboard_user", "--org", reference, "--param", "display_name=Ada", capsys=capsys)
    execution = Execution.objects.get(id=payload["execution_id"])
    assert execution.organization_id == contoso.id
    assert execution.parameters == {"display_name": "Ada", "count": 1}
    assert payload["status"] == "Pending"


@pytest.mark.django_db
def test_an_async_run_prints_its_page_url(onboard, capsys, monkeypatch):
    monkeypatch.delenv("BIFROST_BASE_URL", raising=False)
    payload, err = run("onboard_user", "--params", '{"display_name": "Ada", "count": 3}', capsys=capsys)
    url = f"http://127.0.0.1:8000/executions/{payload['execution_id']}/"
    assert payload["url"] == url
    assert err.strip() == f"Execution {payload['execution_id']} is Pending; follow it at {url}"
    monkeypatch.setenv("BIFROST_BASE_URL", "https://bifrost.msp.example/")
    payload, _ = run("onboard_user", "--param", "display_name=Bo", capsys=capsys)
    assert payload["url"] == f"https://bifrost.msp.example/executions/{payload['execution_id']}/"
    payload, _ = run("onboard_user", "--param", "display_name=Cy", "--base-url", "http://x.test:81", capsys=capsys)
    assert payload["url"].startswith("http://x.test:81/executions/")


@pytest.mark.django_db
def test_unknown_and_ambiguous_organizations_are_clear_errors(contoso, onboard):
    with pytest.raises(CommandError, match=r"^No organization has the id, name or domain 'Fabrikam'"):
        call_command("run_workflow", "onboard_user", "--org", "Fabrikam", "--param", "display_name=Ada")
    with pytest.raises(CommandError, match="No organization"):
        call_command("run_workflow", "onboard_user", "--org", "00000000-0000-0000-0000-000000000001")
    OrganizationFactory(name="contoso", domain="contoso.net")
    with pytest.raises(CommandError, match=r"'Contoso' matches 2 organizations: .*Pass the id instead\.") as raised:
        call_command("run_workflow", "onboard_user", "--org", "Contoso", "--param", "display_name=Ada")
    assert "contoso.com" in str(raised.value) and "contoso.net" in str(raised.value)
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_a_deactivated_organization_is_refused(contoso, onboard):
    contoso.is_active = False
    contoso.save()
    with pytest.raises(
        CommandError, match=r"^Organization Contoso \(id .*\) is deactivated; runs cannot start there\.$"
    ):
        call_command("run_workflow", "onboard_user", "--org", "contoso.com", "--param", "display_name=Ada")
    assert not Execution.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args, line",
    [
        (["onboard_user"], "HTTP 400: display_name: This field is required."),
        (
            ["onboard_user", "--param", "display_name=Ada", "--param", "count=many"],
            "HTTP 400: count: Enter a whole number.",
        ),
        (["no_such_workflow"], "HTTP 404: Workflow 'no_such_workflow' does not exist."),
        (["onboard_user", "--param", "oops"], "--param needs KEY=VALUE, got 'oops'."),
        (["onboard_user", "--params", "[1]"], "--params must be a JSON object"),
    ],
)
def test_refusals_are_one_clean_line(onboard, args, line):
    with pytest.raises(CommandError) as raised:
        call_command("run_workflow", *args)
    message = str(raised.value)
    assert message.startswith(line), message
    assert "ErrorDetail" not in message and "\n" not in message


@pytest.mark.django_db
def test_an_unavailable_workflow_says_why(capsys):
    WorkflowFactory(name="broken", is_available=False, import_error="SyntaxError: invalid syntax (broken.py, line 3)")
    with pytest.raises(CommandError) as raised:
        call_command("run_workflow", "broken")
    assert str(raised.value) == (
        "HTTP 409: Workflow 'broken' is unavailable; import_error: SyntaxError: invalid syntax (broken.py, line 3)."
    )


@pytest.mark.django_db(transaction=True)
def test_from_the_shell_a_refusal_is_one_line_on_stderr_without_a_traceback(django_db_blocker, contoso, onboard):
    """What an operator sees: exit status 1 and one line, for the exact command of the issue."""
    answer = subprocess.run(
        [sys.executable, "manage.py", "run_workflow", "onboard_user", "--org", "Contoso"],
        cwd=REPO_ROOT,
        env=process_env(None, django_db_blocker),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert answer.returncode == 1
    assert answer.stdout == ""
    assert answer.stderr.strip() == "CommandError: HTTP 400: display_name: This field is required."


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_sync_run_on_the_real_worker_prints_the_result_and_its_url(prefork_worker, discovered, contoso, capsys):
    payload, err = run(
        "t_sync", "--sync", "--org", "contoso.com", "--param", "name=Ada", "--param", "count=4", capsys=capsys
    )
    assert payload["status"] == "Success", payload
    assert payload["result"]["name"] == "Ada" and payload["result"]["doubled"] == 8
    assert payload["result"]["scope"] == str(contoso.id)
    assert payload["url"].endswith(f"/executions/{payload['execution_id']}/")
    assert err == ""  # finished: nothing to follow
