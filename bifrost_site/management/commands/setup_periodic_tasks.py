from django.core.management.base import BaseCommand

from bifrost_site.periodic import upsert_periodic_tasks


class Command(BaseCommand):
    help = "Create or update every periodic task Bifrost declares in code (idempotent; run at start)."

    def handle(self, *args, **options):
        for name, created in upsert_periodic_tasks():
            self.stdout.write(f"{'created' if created else 'updated'}: {name}")
