from django.contrib.auth import get_user_model
from django.db.models import Prefetch

from accounts.models import Role

User = get_user_model()


def user_with_roles(user_id):
    return (
        User.objects.select_related("organization")
        .prefetch_related(Prefetch("roles", queryset=Role.objects.only("id", "name", "is_active")))
        .get(id=user_id)
    )
