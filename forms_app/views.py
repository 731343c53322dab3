"""Form pages for users: /forms/ and /forms/<id>/ (plain JS in static/, data via json_script)."""

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.csrf import ensure_csrf_cookie

from bifrost_site.scope import RequestScope
from forms_app.models import Form
from forms_app.rendering import render_display_field
from forms_app.selectors import forms_visible_to
from forms_app.validation import DISPLAY_TYPES, query_param_names

UNCATEGORIZED = "Other"
NOT_PREFILLED_TYPES = frozenset({"file", *DISPLAY_TYPES})


def _user_scope(user):
    if not user.is_authenticated:
        return None
    return RequestScope.for_user(user)


def _workflows_by_name(names) -> dict:
    """{workflow name: (category, is_available)} for the forms' workflows, in one query."""
    from workflows.models import Workflow

    return {
        name: (category, available)
        for name, category, available in Workflow.objects.filter(name__in=set(names)).values_list(
            "name", "category", "is_available"
        )
    }


@login_required
def form_list_page(request):
    """The forms the user may use, grouped by their workflow's category. A form whose workflow is missing
    or unavailable is hidden from users and flagged for platform admins (who see every form)."""
    user = request.user
    if user.is_platform_admin:
        forms = Form.objects.select_related("organization").order_by("name", "id")
    else:
        forms = forms_visible_to(_user_scope(user)).order_by("name", "id")
    forms = list(forms)
    workflows = _workflows_by_name(form.workflow for form in forms)
    groups: dict[str, list] = {}
    for form in forms:
        category, available = workflows.get(form.workflow, (UNCATEGORIZED, False))
        if not available and not user.is_platform_admin:
            continue
        form.workflow_available = available
        groups.setdefault(category or UNCATEGORIZED, []).append(form)
    grouped = sorted(groups.items(), key=lambda item: (item[0] == UNCATEGORIZED, item[0].lower()))
    return render(
        request,
        "forms_app/form_list.html",
        {"groups": grouped, "form_count": sum(len(items) for _, items in grouped)},
    )


def _page_form(request, form_id):
    """The form and the organization header its API calls need. Platform admins may preview any
    form (acting in the form's organization); users see what forms_visible_to allows; anyone may
    use an active public form."""
    user = request.user
    if user.is_authenticated:
        if user.is_platform_admin:
            form = Form.objects.select_related("organization").filter(id=form_id).first()
            if form is not None:
                return form, form.organization_id, False
        else:
            form = forms_visible_to(_user_scope(user)).filter(id=form_id).first()
            if form is not None:
                return form, None, False
    form = forms_visible_to(None).filter(id=form_id).first()
    if form is not None:
        return form, None, True
    return None, None, False


def _rerun_values(request, form, execution_id) -> tuple[dict, str | None]:
    """The values of an earlier run of this form to fill it with ("Run again"): the run's parameters
    for the form's input fields (file fields excepted), only if the user may see that run."""
    if not execution_id or not request.user.is_authenticated:
        return {}, None
    from executions.selectors import execution_visible

    execution = execution_visible(_user_scope(request.user), execution_id)
    if execution is None or execution.form_id != form.id:
        return {}, None
    names = {
        field.get("name")
        for field in (form.schema or {}).get("fields", [])
        if isinstance(field, dict) and field.get("type") not in NOT_PREFILLED_TYPES
    }
    parameters = execution.parameters if isinstance(execution.parameters, dict) else {}
    return {name: value for name, value in parameters.items() if name in names}, str(execution.id)


@ensure_csrf_cookie
def form_page(request, form_id):
    form, organization_id, public = _page_form(request, form_id)
    if form is None:
        if not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        raise Http404("Form not found.")
    fields = []
    for field in (form.schema or {}).get("fields", []):
        item = dict(field)
        if item.get("type") in DISPLAY_TYPES:
            item["rendered"] = render_display_field(item)
            item.pop("content", None)
        fields.append(item)
    allowed_query = query_param_names(schema=form.schema, allowed_query_params=form.allowed_query_params)
    prefill, rerun_of = _rerun_values(request, form, request.GET.get("rerun", ""))
    query = {key: value for key, value in request.GET.items() if key != "rerun"}
    config = {
        "form_id": str(form.id),
        "name": form.name,
        "fields": fields,
        "has_launch_workflow": bool(form.launch_workflow),
        "api_base": f"/api/forms/{form.id}",
        "organization_id": str(organization_id) if organization_id else None,
        "query": query,
        "query_fields": sorted(allowed_query),
        "execution_url": "/executions/{id}/",
        "form_url": f"/forms/{form.id}/",
        "public": public,
        "prefill": prefill,
        "rerun_of": rerun_of,
        "status_labels": _status_labels(),
    }
    has_file_fields = any(field.get("type") == "file" for field in fields if isinstance(field, dict))
    return render(
        request,
        "forms_app/form_page.html",
        {"form": form, "config": config, "is_public": public, "rerun_of": rerun_of, "has_file_fields": has_file_fields},
    )


def _status_labels() -> dict:
    from bifrost_site.templatetags.portal import STATUS_LABELS

    return STATUS_LABELS
