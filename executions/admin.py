from django.contrib import admin, messages
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from rest_framework.exceptions import APIException

from bifrost_site.admin_tools import api_message
from bifrost_site.templatetags.portal import format_duration
from executions.models import Execution, ExecutionLog

# What execution_cancel accepts (the API's rule); a finished run answers with the service's sentence.
CANCELLABLE = frozenset({"Scheduled", "Pending", "Running"})


class WorkflowNameFilter(admin.SimpleListFilter):
    """By workflow: the registry's names (a run keeps its workflow's name after the workflow is gone)."""

    title = "workflow"
    parameter_name = "workflow_name"

    def lookups(self, request, model_admin):
        from workflows.models import Workflow

        return [(name, name) for name in Workflow.objects.order_by("name").values_list("name", flat=True)]

    def queryset(self, request, queryset):
        return queryset.filter(workflow_name=self.value()) if self.value() else queryset


def live_log_url(execution) -> str:
    return f"/executions/{execution.id}/"


@admin.register(Execution)
class ExecutionAdmin(admin.ModelAdmin):
    """Runs: read-only rows with the day's verbs, Cancel and Rerun (one run from its page, many from the
    list), through the same services and rules as POST /api/executions/{id}/cancel and /rerun; each is
    audited by the service (execution.cancel, execution.rerun)."""

    # The columns an MSP admin scans (issue 21 items 1 and 4), narrow enough for a 1400 px window: the id is
    # searchable and on the change page, the workflow name links there.
    list_display = [
        "workflow_name",
        "organization",
        "status",
        "trigger",
        "executed_by_name",
        "created_at",
        "started_at",
        "duration",
        "log_viewer",
    ]
    list_display_links = ["workflow_name"]
    list_filter = ["status", "trigger", "organization", WorkflowNameFilter, "created_at"]
    search_fields = ["id", "workflow_name", "executed_by_name"]
    list_select_related = ["organization"]
    date_hierarchy = "created_at"
    show_full_result_count = False
    actions = ["cancel_selected", "rerun_selected"]
    change_form_template = "admin/executions/execution/change_form.html"

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields] + ["log_viewer"]

    def has_add_permission(self, request):
        return False

    @admin.display(description="Duration", ordering="duration_ms")
    def duration(self, obj):
        return format_duration(obj.duration_ms)

    @admin.display(description="Logs")
    def log_viewer(self, obj):
        return format_html('<a href="{}">live log</a>', live_log_url(obj))

    # --- cancel and rerun ---------------------------------------------------------------------------

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "<uuid:object_id>/cancel/",
                self.admin_site.admin_view(self.cancel_view),
                name="{}_{}_cancel".format(*info),
            ),
            path(
                "<uuid:object_id>/rerun/",
                self.admin_site.admin_view(self.rerun_view),
                name="{}_{}_rerun".format(*info),
            ),
            *super().get_urls(),
        ]

    def _cancel(self, request, execution) -> bool:
        from executions.services import execution_cancel

        try:
            cancelled = execution_cancel(execution=execution, user=request.user)
        except APIException as exc:
            self.message_user(
                request, f"The run of {execution.workflow_name} was not cancelled: {api_message(exc)}", messages.ERROR
            )
            return False
        state = "was cancelled" if cancelled.is_complete else "is being stopped (Cancelling)"
        self.message_user(request, f"The run of {execution.workflow_name} {state}.", messages.SUCCESS)
        return True

    def _rerun(self, request, execution):
        from executions.services import execution_rerun

        try:
            started = execution_rerun(execution=execution, user=request.user)
        except APIException as exc:
            self.message_user(
                request,
                f"The run of {execution.workflow_name} could not be started again: {api_message(exc)}",
                messages.ERROR,
            )
            return None
        new = started.execution
        self.message_user(
            request,
            format_html(
                'A new run of {} was started with the same parameters (<a href="{}">live log</a>).',
                execution.workflow_name,
                live_log_url(new),
            ),
            messages.SUCCESS,
        )
        return new

    def _change_url(self, execution) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[execution.pk])

    def cancel_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        execution = get_object_or_404(Execution, pk=object_id)
        self._cancel(request, execution)
        return HttpResponseRedirect(self._change_url(execution))

    def rerun_view(self, request, object_id):
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        execution = get_object_or_404(Execution, pk=object_id)
        new = self._rerun(request, execution)
        return HttpResponseRedirect(live_log_url(new) if new is not None else self._change_url(execution))

    @admin.action(description="Cancel the selected runs (scheduled, pending or running)")
    def cancel_selected(self, request, queryset):
        for execution in queryset.select_related("organization"):
            self._cancel(request, execution)

    @admin.action(description="Rerun the selected runs (same workflow, parameters and organization)")
    def rerun_selected(self, request, queryset):
        for execution in queryset.select_related("organization", "form"):
            self._rerun(request, execution)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        execution = self.get_object(request, object_id)
        extra_context = dict(extra_context or {})
        if execution is not None:
            extra_context.update(
                live_log_url=live_log_url(execution),
                can_cancel=execution.status in CANCELLABLE,
                cancel_url=reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_cancel", args=[execution.pk]),
                rerun_url=reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_rerun", args=[execution.pk]),
            )
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(ExecutionLog)
class ExecutionLogAdmin(admin.ModelAdmin):
    list_display = ["execution", "sequence", "level", "message", "timestamp"]
    list_filter = ["level"]
    show_full_result_count = False
    raw_id_fields = ["execution"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False
