import factory
from factory.django import DjangoModelFactory

from accounts.tests.factories import RoleFactory
from forms_app.models import AccessLevel, Form, FormRole
from orgs.tests.factories import OrganizationFactory


class FormFactory(DjangoModelFactory):
    class Meta:
        model = Form

    name = factory.Sequence(lambda n: f"Form {n}")
    organization = factory.SubFactory(OrganizationFactory)
    workflow = "hello_world"
    schema = factory.LazyFunction(
        lambda: {"fields": [{"name": "name", "label": "Name", "type": "text", "required": True}]}
    )
    access_level = AccessLevel.ROLE_BASED


class FormRoleFactory(DjangoModelFactory):
    class Meta:
        model = FormRole

    form = factory.SubFactory(FormFactory)
    role = factory.SubFactory(RoleFactory, organization=factory.SelfAttribute("..form.organization"))
