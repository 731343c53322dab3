"""The admin's Run page for a workflow (DESIGN §18, issue 21 item 3): a form generated from the workflow's
parameters, an organization picker and sync or async; it starts the run through the one start service
(executions.services.execution_start, so the API's validation: bifrost.params.coerce_parameters) and lands
on the live execution page. Routed by BifrostAdminSite.get_urls as admin:workflows_workflow_run."""

from __future__ import annotations

import json

from django import forms
from django.contrib import messages
from django.http import Http404, HttpResponseRedirect
from django.template.response import TemplateResponse
from rest_framework.exceptions import APIException

from bifrost_site.admin_tools import api_message

INPUTS = {
    "email": forms.EmailInput,
    "int": forms.NumberInput,
    "float": forms.NumberInput,
    "date": forms.DateInput(attrs={"type": "date"}),
    "datetime": forms.DateTimeInput(attrs={"type": "datetime-local"}),
    "json": forms.Textarea(attrs={"rows": 4, "class": "vLargeTextField bifrost-json", "spellcheck": "false"}),
    "list": forms.Textarea(attrs={"rows": 3, "class": "vLargeTextField bifrost-json", "spellcheck": "false"}),
}
MODES = [("", "The workflow's own mode"), ("async", "Asynchronous"), ("sync", "Synchronous (wait for the result)")]
PREFIX = "param_"


def _field(parameter: dict) -> forms.Field:
    """Inputs only: the values are checked by coerce_parameters, as the API checks them."""
    kind = parameter.get("type") or "string"
    label = parameter.get("label") or parameter["name"].replace("_", " ").capitalize()
    common = {"label": label, "required": False, "help_text": parameter.get("help_text") or ""}
    if kind == "bool":
        return forms.BooleanField(initial=bool(parameter.get("default_value")), **common)
    default = parameter.get("default_value")
    if kind in ("json", "list") and default is not None:
        default = json.dumps(default)
    if parameter.get("required"):
        common["label"] = f"{label} *"
    widget = INPUTS.get(kind, forms.TextInput)
    if kind == "float":
        widget = forms.NumberInput(attrs={"step": "any"})
    return forms.CharField(initial=default, widget=widget, strip=False, **common)


class RunForm(forms.Form):
    organization = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="GLOBAL (no organization)", help_text="The run's scope."
    )
    mode = forms.ChoiceField(choices=MODES, required=False, label="Mode")

    def __init__(self, *args, workflow, **kwargs):
        from orgs.models import Organization

        super().__init__(*args, **kwargs)
        self.workflow = workflow
        self.fields["organization"].queryset = Organization.objects.filter(is_active=True).order_by("name")
        self.parameters = [p for p in workflow.parameters or [] if isinstance(p, dict) and p.get("name")]
        for parameter in self.parameters:
            self.fields[PREFIX + parameter["name"]] = _field(parameter)

    def parameter_values(self) -> dict:
        """The submitted values as the API's body would carry them: empty inputs left out (so defaults
        apply and a missing required one is named by the validator), JSON inputs parsed when they parse."""
        values = {}
        for parameter in self.parameters:
            name = parameter["name"]
            value = self.cleaned_data.get(PREFIX + name)
            if parameter.get("type") == "bool":
                values[name] = bool(value)
                continue
            if value in (None, ""):
                continue
            if parameter.get("type") in ("json", "list"):
                try:
                    value = json.loads(value)
                except ValueError:
                    pass  # the validator names what is wrong with it
            values[name] = value
        return values

    def add_service_errors(self, detail) -> None:
        """A 400 from the start service ({parameter: [messages]}) onto the inputs it names."""
        if isinstance(detail, dict):
            for key, messages in detail.items():
                target = PREFIX + str(key) if PREFIX + str(key) in self.fields else None
                for message in messages if isinstance(messages, list) else [messages]:
                    self.add_error(target, str(message) if target else f"{key}: {message}")
        else:
            self.add_error(None, " ".join(map(str, detail)) if isinstance(detail, list) else str(detail))


def workflow_run_view(admin_site, request, object_id):
    from executions.models import Trigger
    from executions.services import execution_await, execution_start
    from workflows.models import Workflow

    workflow = Workflow.objects.filter(pk=object_id).first() if _is_uuid(object_id) else None
    if workflow is None:
        raise Http404("No such workflow.")
    form = RunForm(request.POST or None, workflow=workflow)
    if request.method == "POST" and workflow.is_available and form.is_valid():
        try:
            started = execution_start(
                workflow_name=workflow.name,
                parameters=form.parameter_values(),
                trigger=Trigger.MANUAL,
                organization=form.cleaned_data.get("organization"),
                user=request.user,
                mode=form.cleaned_data.get("mode") or None,
            )
        except APIException as exc:
            if exc.status_code == 400 and isinstance(exc.detail, dict):
                form.add_service_errors(exc.detail)
            else:
                form.add_error(None, api_message(exc))
        else:
            execution = execution_await(started) if started.mode == "sync" else started.execution
            messages.success(request, f"{workflow.name} started; its log follows live.")
            return HttpResponseRedirect(f"/executions/{execution.id}/")
    opts = Workflow._meta
    context = {
        **admin_site.each_context(request),
        "opts": opts,
        "original": workflow,
        "title": f"Run {workflow.name}",
        "form": form,
        "workflow": workflow,
    }
    return TemplateResponse(request, "admin/workflows/workflow/run.html", context)


def _is_uuid(value) -> bool:
    import uuid

    try:
        uuid.UUID(str(value))
    except ValueError:
        return False
    return True
