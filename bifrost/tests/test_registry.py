"""The registry: global last-wins maps, capture() for discovery, collect(module)."""

from __future__ import annotations

import importlib
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from bifrost import WorkflowDefinitionError, data_provider, param, registry, workflow
from bifrost.registry import Registry


@pytest.fixture
def workspace(tmp_path: Path) -> Iterator[Path]:
    sys.path.insert(0, str(tmp_path))
    created = set(sys.modules)
    yield tmp_path
    sys.path.remove(str(tmp_path))
    for name in set(sys.modules) - created:
        if name.startswith("wsmod_"):
            del sys.modules[name]


def write(root: Path, name: str, body: str) -> None:
    (root / f"{name}.py").write_text(textwrap.dedent(body))


def test_capture_records_what_an_import_registers(workspace: Path) -> None:
    write(
        workspace,
        "wsmod_a",
        """
        from bifrost import workflow, param, data_provider

        @workflow(name="cap_one")
        @param("x", type="int", required=True)
        def one(context, x):
            return x

        @param("y")
        @workflow(name="cap_two")
        def two(y=None):
            return y

        @data_provider("cap_options")
        def options(context):
            return ["a"]
        """,
    )
    with registry.capture() as cap:
        module = importlib.import_module("wsmod_a")
    assert list(cap.workflows) == ["cap_one", "cap_two"]
    assert list(cap.data_providers) == ["cap_options"]
    assert [p.name for p in cap.workflows["cap_two"].parameters] == ["y"]
    assert cap.workflows["cap_one"] is module.one.__bifrost_workflow__
    assert registry.workflows["cap_one"] is cap.workflows["cap_one"]


def test_capture_only_sees_its_own_block() -> None:
    @workflow(name="before_capture")
    def before(context):
        return None

    with registry.capture() as cap:

        @workflow(name="inside_capture")
        def inside(context):
            return None

    assert list(cap.workflows) == ["inside_capture"]
    assert "before_capture" in registry.workflows


def test_duplicate_names_in_one_capture_are_rejected(workspace: Path) -> None:
    write(
        workspace,
        "wsmod_dupe",
        """
        from bifrost import workflow

        @workflow(name="dupe")
        def first(context):
            return 1

        @workflow(name="dupe")
        def second(context):
            return 2
        """,
    )
    with pytest.raises(WorkflowDefinitionError, match="Duplicate workflow name 'dupe'") as excinfo, registry.capture():
        importlib.import_module("wsmod_dupe")
    assert "wsmod_dupe.first" in str(excinfo.value)
    assert "wsmod_dupe.second" in str(excinfo.value)


def test_duplicate_data_provider_in_one_capture_rejected() -> None:
    with pytest.raises(WorkflowDefinitionError, match="Duplicate data provider name"), registry.capture():

        @data_provider("dp_dupe")
        def a(context):
            return []

        @data_provider("dp_dupe")
        def b(context):
            return []


def test_same_name_in_separate_captures_replaces_globally() -> None:
    with registry.capture():

        @workflow(name="reloaded")
        def v1(context):
            return 1

    with registry.capture() as cap:

        @workflow(name="reloaded")
        def v2(context):
            return 2

    assert registry.workflows["reloaded"].func is v2
    assert cap.workflows["reloaded"].func is v2


def test_nested_captures_both_record() -> None:
    with registry.capture() as outer, registry.capture() as inner:

        @workflow(name="nested_wf")
        def fn(context):
            return None

    assert "nested_wf" in outer.workflows and "nested_wf" in inner.workflows


def test_capture_exception_in_body_is_not_masked_by_completeness_check() -> None:
    with pytest.raises(ZeroDivisionError), registry.capture():

        @workflow(name="incomplete_then_crash")
        def fn(context, needed):
            return None

        1 / 0  # noqa: B018


def test_collect_finds_only_objects_defined_in_the_module(workspace: Path) -> None:
    write(
        workspace,
        "wsmod_lib",
        """
        from bifrost import workflow

        @workflow(name="lib_flow")
        def lib_flow(context):
            return None
        """,
    )
    write(
        workspace,
        "wsmod_main",
        """
        from bifrost import workflow, data_provider
        from wsmod_lib import lib_flow

        @workflow(name="main_flow")
        def main_flow(context):
            return None

        alias = main_flow

        @data_provider("main_dp")
        def dp(context):
            return []

        def plain():
            return None
        """,
    )
    module = importlib.import_module("wsmod_main")
    workflows, providers = registry.collect(module)
    assert list(workflows) == ["main_flow"]
    assert list(providers) == ["main_dp"]


def test_collect_checks_completeness(workspace: Path) -> None:
    write(
        workspace,
        "wsmod_incomplete",
        """
        from bifrost import param, workflow

        @param("a", required=True)
        @workflow(name="incomplete")
        def fn(context, a, b):
            return None
        """,
    )
    module = importlib.import_module("wsmod_incomplete")
    with pytest.raises(WorkflowDefinitionError, match="'b' has no default"):
        registry.collect(module)


def test_remove_module_and_module_level_aliases() -> None:
    @workflow(name="to_remove")
    def fn(context):
        return None

    @data_provider("dp_to_remove")
    def dp(context):
        return []

    assert registry.workflows is registry.default_registry.workflows
    registry.remove_module(__name__)
    assert "to_remove" not in registry.workflows
    assert "dp_to_remove" not in registry.data_providers


def test_param_rebuild_reregisters_in_capture() -> None:
    with registry.capture() as cap:

        @param("late")
        @workflow(name="late_params")
        def fn(context, late=None):
            return None

    assert [p.name for p in cap.workflows["late_params"].parameters] == ["late"]


def test_independent_registry_instances() -> None:
    other = Registry()
    with other.capture() as cap:
        pass
    assert cap.workflows == {} and other.workflows == {}
