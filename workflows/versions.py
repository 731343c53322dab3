"""Workflow versions: each distinct source of a workflow's module, kept for good (DESIGN §20).

Discovery records the source of every workflow it registers (`workflow_versions_record`); the worker
records the source it actually ran when discovery has not seen it yet, e.g. a file edited between two
discoveries (`workflow_version_ensure`), and the run's final status points at that version
(`version_subquery`).
"""

from __future__ import annotations

import threading

from django.db.models import Subquery

from workflows.models import Workflow, WorkflowVersion

# (workflow id, source hash) pairs this process knows are stored: a worker writes each version once.
_known: set[tuple[str, str]] = set()
_known_lock = threading.Lock()


def current_git_commit() -> str:
    """The commit git sync last brought the workspace to ("" when the workspace does not come from git)."""
    from workflows.models import WorkspaceGitSettings

    row = WorkspaceGitSettings.objects.exclude(repo_url="").values("last_commit").first()
    return row["last_commit"] if row else ""


def workflow_versions_record(*, specs_by_name: dict, git_commit: str = "") -> int:
    """Store the source of each discovered workflow (`{name: (spec, FileReport)}`) unless that exact source
    is already stored; returns how many versions are new. Run inside discovery's transaction."""
    if not specs_by_name:
        return 0
    workflow_ids = dict(Workflow.objects.filter(name__in=list(specs_by_name)).values_list("name", "id"))
    existing = set(
        WorkflowVersion.objects.filter(workflow_id__in=list(workflow_ids.values())).values_list(
            "workflow_id", "source_hash"
        )
    )
    new = [
        WorkflowVersion(
            workflow_id=workflow_ids[name],
            source_hash=report.hash,
            source=report.source,
            source_path=report.path,
            git_commit=git_commit,
        )
        for name, (_spec, report) in specs_by_name.items()
        if name in workflow_ids and (workflow_ids[name], report.hash) not in existing
    ]
    WorkflowVersion.objects.bulk_create(new, ignore_conflicts=True)
    return len(new)


def workflow_version_ensure(*, workflow_id, source_hash: str, source: str, source_path: str) -> None:
    """Make sure the source a worker is about to run is stored (once per process and version)."""
    key = (str(workflow_id), source_hash)
    if key in _known:
        return
    WorkflowVersion.objects.bulk_create(
        [
            WorkflowVersion(
                workflow_id=workflow_id, source_hash=source_hash, source=source, source_path=source_path
            )
        ],
        ignore_conflicts=True,
    )
    with _known_lock:
        _known.add(key)


def version_subquery(*, workflow_id, source_hash: str) -> Subquery:
    """The id of that stored version, for the UPDATE that finishes a run (NULL if it is gone)."""
    return Subquery(
        WorkflowVersion.objects.filter(workflow_id=workflow_id, source_hash=source_hash).values("id")[:1]
    )
