from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from accounts.services import dev_user_ensure


class Command(BaseCommand):
    help = "Create the development platform admin (DEV_USER_EMAIL / DEV_USER_PASSWORD). Development only; idempotent."

    def handle(self, *args, **options):
        if settings.ENVIRONMENT != "development":
            raise CommandError("ensure_dev_user only runs with ENVIRONMENT=development.")
        user, changed = dev_user_ensure(email=settings.DEV_USER_EMAIL, password=settings.DEV_USER_PASSWORD)
        state = "created or updated" if changed else "already present"
        self.stdout.write(self.style.SUCCESS(f"Development admin {user.email}: {state}."))
