import hashlib

import factory
from factory.django import DjangoModelFactory

from workflows.models import DataProvider, JobType, Workflow, WorkflowKey, WorkflowVersion, WorkspaceJob


class WorkflowFactory(DjangoModelFactory):
    class Meta:
        model = Workflow

    name = factory.Sequence(lambda n: f"workflow_{n}")
    description = "A workflow"
    parameters = factory.LazyFunction(list)
    source_path = factory.LazyAttribute(lambda o: f"{o.name}.py")
    allowed_methods = factory.LazyFunction(lambda: ["POST"])


class WorkflowVersionFactory(DjangoModelFactory):
    class Meta:
        model = WorkflowVersion

    workflow = factory.SubFactory(WorkflowFactory)
    source = factory.Sequence(lambda n: f"# version {n}\ndef run():\n    return {n}\n")
    source_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.source.encode()).hexdigest())
    source_path = factory.LazyAttribute(lambda o: o.workflow.source_path)


class DataProviderFactory(DjangoModelFactory):
    class Meta:
        model = DataProvider

    name = factory.Sequence(lambda n: f"provider_{n}")
    source_path = factory.LazyAttribute(lambda o: f"{o.name}.py")


class WorkflowKeyFactory(DjangoModelFactory):
    class Meta:
        model = WorkflowKey
        exclude = ["raw_key"]

    raw_key = factory.Sequence(lambda n: f"bfk_test_key_{n:08d}")
    hashed_key = factory.LazyAttribute(lambda o: hashlib.sha256(o.raw_key.encode()).hexdigest())
    key_prefix = factory.LazyAttribute(lambda o: o.raw_key[:8])
    workflow = factory.SubFactory(WorkflowFactory)


class WorkspaceJobFactory(DjangoModelFactory):
    class Meta:
        model = WorkspaceJob

    job_type = JobType.DISCOVERY
