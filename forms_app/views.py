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


def _user_scope(user):
    if not user.is_authenticated:
        return None
    return RequestScope.for_user(user)


@login_required
def form_list_page(request):
    user = request.user
    if user.is_platform_admin:
        forms = Form.objects.select_related("organization").order_by("name")
    else:
        forms = forms_visible_to(_user_scope(user)).order_by("name")
    return render(request, "forms_app/form_list.html", {"forms": forms})


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
    config = {
        "form_id": str(form.id),
        "name": form.name,
        "fields": fields,
        "has_launch_workflow": bool(form.launch_workflow),
        "api_base": f"/api/forms/{form.id}",
        "organization_id": str(organization_id) if organization_id else None,
        "query": dict(request.GET.items()),
        "query_fields": sorted(allowed_query),
        "execution_url": "/executions/{id}/",
        "public": public,
    }
    return render(request, "forms_app/form_page.html", {"form": form, "config": config, "is_public": public})
