import factory
from factory.django import DjangoModelFactory

from accounts.tests.factories import RoleFactory
from forms_app.models import AccessLevel, Form, FormRole, FormUpload
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


class FormUploadFactory(DjangoModelFactory):
    class Meta:
        model = FormUpload

    form = factory.SubFactory(FormFactory)
    organization = factory.SelfAttribute("form.organization")
    field_name = "attachment"
    file = factory.django.FileField(filename="notes.txt", data=b"hello")
    original_name = "notes.txt"
    content_type = "text/plain"
    size = 5
