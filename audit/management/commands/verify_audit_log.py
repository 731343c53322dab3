from django.core.management.base import BaseCommand, CommandError

from audit.chain import verify_database


class Command(BaseCommand):
    help = (
        "Check the audit log's hash chain (DESIGN §20): prints 'intact, N entries', or the first broken "
        "entry and exits 1."
    )

    def handle(self, *args, **options):
        verdict = verify_database()
        if not verdict.intact:
            raise CommandError(str(verdict.broken), returncode=1)
        self.stdout.write(f"intact, {verdict.count} entries")
