from rest_framework.pagination import CursorPagination, LimitOffsetPagination


class BifrostLimitOffsetPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 500

    def paginate_queryset(self, queryset, request, view=None):
        if hasattr(queryset, "ordered") and not queryset.ordered:
            raise AssertionError(f"{view.__class__.__name__} paginates an unordered queryset; order it.")
        return super().paginate_queryset(queryset, request, view)


class BifrostCursorPagination(CursorPagination):
    """For activity records (executions, logs): stable and cheap on deep pages."""

    page_size = 50
    max_page_size = 500
    page_size_query_param = "limit"
    ordering = ("-created_at", "-id")
