from django.core.management.base import BaseCommand, CommandError

from secrets_app.rotation import rotate_all


class Command(BaseCommand):
    help = (
        "Re-encrypt every encrypted value (secrets, OAuth client secrets and tokens, PKCE verifiers) with the "
        "newest key in ENCRYPTION_KEYS. Safe to re-run; afterwards older keys can be removed."
    )

    def add_arguments(self, parser):
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")
        parser.add_argument("--dry-run", action="store_true", help="Count what would change; write nothing.")
        parser.add_argument(
            "--fail-on-undecryptable",
            action="store_true",
            help="Exit non-zero (after finishing) when some value could not be decrypted or was skipped.",
        )

    def handle(self, *args, batch_size, dry_run, fail_on_undecryptable, **options):
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        reports = rotate_all(batch_size=batch_size, dry_run=dry_run)
        verb = "would re-encrypt" if dry_run else "re-encrypted"
        totals = {"rotated": 0, "current": 0, "undecryptable": 0, "skipped": 0}
        for report in reports:
            self.stdout.write(
                f"{report.label}: {verb} {report.rotated}, already current {report.current}, "
                f"undecryptable {len(report.undecryptable)}, skipped (locked) {report.skipped_locked}"
            )
            for row in report.undecryptable:
                self.stderr.write(f"  cannot decrypt {report.label} of {row} with any configured key")
            totals["rotated"] += report.rotated
            totals["current"] += report.current
            totals["undecryptable"] += len(report.undecryptable)
            totals["skipped"] += report.skipped_locked
        self.stdout.write(
            f"Total: {verb} {totals['rotated']}, already current {totals['current']}, "
            f"undecryptable {totals['undecryptable']}, skipped (locked) {totals['skipped']}."
        )
        if totals["skipped"]:
            self.stdout.write("Some rows were locked by other transactions; run the command again to finish them.")
        if fail_on_undecryptable and (totals["undecryptable"] or totals["skipped"]):
            raise CommandError("Some values were not re-encrypted (see above).")
