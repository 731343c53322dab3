from django.core.management.base import BaseCommand, CommandError

from workflows.models import JobType, WorkspaceJob
from workflows.services.git_sync import git_settings_get, git_sync_run


class Command(BaseCommand):
    help = (
        "Sync the workspace from its git repository now (in this process), then run discovery. "
        "Uses the settings of PUT /api/workspace/git unless --repo-url/--branch are given."
    )

    def add_arguments(self, parser):
        parser.add_argument("--repo-url", default=None, help="Override the configured repository for this run.")
        parser.add_argument("--branch", default=None, help="Override the configured branch for this run.")

    def handle(self, *args, **options):
        row = git_settings_get()
        repo_url = options["repo_url"] or row.repo_url
        branch = options["branch"] or row.branch
        if not repo_url:
            raise CommandError("No repository configured: PUT /api/workspace/git first, or pass --repo-url.")
        job = WorkspaceJob.objects.create(
            job_type=JobType.GIT_SYNC, parameters={"repo_url": repo_url, "branch": branch, "command": True}
        )
        job = git_sync_run(job_id=job.id)
        for line in job.logs.order_by("sequence"):
            self.stdout.write(line.message)
        if job.status != "success":
            raise CommandError(f"git sync failed (job {job.id}): {job.error_message}")
        self.stdout.write(self.style.SUCCESS(f"synced to {job.result.get('commit', '')[:12]} (job {job.id})"))
