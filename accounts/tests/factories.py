import factory
from factory.django import DjangoModelFactory

from accounts.models import Role, User, UserRole, UserType
from orgs.tests.factories import OrganizationFactory

DEFAULT_PASSWORD = "correct-horse-battery-staple"


class UserFactory(DjangoModelFactory):
    """An ORG user inside one organization."""

    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.test")
    name = factory.Faker("name")
    user_type = UserType.ORG
    organization = factory.SubFactory(OrganizationFactory)
    is_active = True
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save_password(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class PlatformAdminFactory(UserFactory):
    user_type = UserType.PLATFORM
    organization = None
    is_platform_admin = True
    email = factory.Sequence(lambda n: f"admin{n}@msp.test")


class RoleFactory(DjangoModelFactory):
    class Meta:
        model = Role

    name = factory.Sequence(lambda n: f"Role {n}")
    organization = factory.SubFactory(OrganizationFactory)


class UserRoleFactory(DjangoModelFactory):
    class Meta:
        model = UserRole

    role = factory.SubFactory(RoleFactory)
    # The user belongs to the role's organization unless told otherwise.
    user = factory.SubFactory(UserFactory, organization=factory.SelfAttribute("..role.organization"))


class OrganizationSSOFactory(DjangoModelFactory):
    class Meta:
        model = "accounts.OrganizationSSO"

    organization = factory.SubFactory(OrganizationFactory)
    issuer = "https://login.example.test/tenant"
    client_id = factory.Sequence(lambda n: f"client-{n}")
    client_secret = "factory-client-secret"
    email_domains = factory.Sequence(lambda n: [f"sso{n}.example.test"])
