"""The workflow import guard (executions/engine/import_guard.py): a guard, not a sandbox."""

import importlib
import sys
import textwrap

import pytest

from executions.engine.import_guard import (
    GUARDED_PACKAGES,
    WorkflowImportError,
    install_import_guard,
    installed_import_guard,
    uninstall_import_guard,
)


@pytest.fixture
def workspace(tmp_path):
    """A workspace on sys.path with a `.packages` directory, and an importable package OUTSIDE it."""
    root = tmp_path / "workspace"
    (root / ".packages" / "vendored_lib").mkdir(parents=True)
    (root / "helpers").mkdir()
    outside = tmp_path / "outside"
    (outside / "guard_test_internal").mkdir(parents=True)

    def write(path, source):
        path.write_text(textwrap.dedent(source))

    write(root / "bad_import.py", "import secrets_app.models\n")
    write(root / "bad_from_import.py", "from secrets_app.models import Secret\n")
    write(root / "bad_django.py", "from django.conf import settings\nKEY = settings.SECRET_KEY\n")
    write(root / "bad_dynamic.py", "import importlib\nmod = importlib.import_module('guard_test_internal.core')\n")
    write(root / "bad_later.py", "def run():\n    from audit import services\n    return services\n")
    write(
        root / "good_workflow.py",
        """
        import collections.abc
        import json
        import os.path

        import bifrost
        from bifrost import workflow

        import vendored_lib
        """,
    )
    write(root / "helpers" / "__init__.py", "from .text import shout\n")
    write(root / "helpers" / "text.py", "def shout(s):\n    return s.upper()\n")
    write(root / "uses_helpers.py", "from helpers import shout\nVALUE = shout('ok')\n")
    # A third-party package installed for the workflows may import whatever it likes.
    write(root / ".packages" / "vendored_lib" / "__init__.py", "import django\nVERSION = django.VERSION\n")
    write(outside / "guard_test_internal" / "__init__.py", "")
    write(outside / "guard_test_internal" / "core.py", "SECRET = 'internal'\n")

    names = [
        "bad_import",
        "bad_from_import",
        "bad_django",
        "bad_dynamic",
        "bad_later",
        "good_workflow",
        "helpers",
        "helpers.text",
        "uses_helpers",
        "vendored_lib",
        "guard_test_internal",
        "guard_test_internal.core",
    ]
    paths = [str(root), str(root / ".packages"), str(outside)]
    sys.path[:0] = paths
    try:
        yield root
    finally:
        uninstall_import_guard()
        for path in paths:
            sys.path.remove(path)
        for name in names:
            sys.modules.pop(name, None)
        importlib.invalidate_caches()


@pytest.fixture
def guard(workspace):
    return install_import_guard(workspace, guarded=GUARDED_PACKAGES | {"guard_test_internal"})


@pytest.mark.parametrize("module", ["bad_import", "bad_from_import", "bad_django"])
def test_workflow_code_cannot_import_the_projects_internals(guard, module):
    assert "secrets_app.models" in sys.modules  # already loaded: the guard still refuses it
    with pytest.raises(WorkflowImportError) as caught:
        importlib.import_module(module)
    assert isinstance(caught.value, ImportError)
    message = str(caught.value)
    assert "Workflow code cannot import" in message and "bifrost SDK" in message
    assert caught.value.path.endswith(f"{module}.py")


def test_a_module_not_yet_imported_is_refused_through_importlib(guard):
    assert "guard_test_internal" not in sys.modules
    with pytest.raises(WorkflowImportError, match="'guard_test_internal'"):  # the parent package comes first
        importlib.import_module("bad_dynamic")
    assert "guard_test_internal.core" not in sys.modules


def test_imports_inside_functions_are_refused_when_they_run(guard):
    module = importlib.import_module("bad_later")
    with pytest.raises(WorkflowImportError, match="'audit'"):
        module.run()


def test_bifrost_stdlib_workspace_and_installed_packages_work(guard):
    good = importlib.import_module("good_workflow")
    assert good.bifrost.workflow is good.workflow
    assert good.vendored_lib.VERSION  # .packages code imported django: third-party code is not guarded
    assert importlib.import_module("uses_helpers").VALUE == "OK"


def test_code_outside_the_workspace_is_not_affected(guard):
    import secrets_app.models

    assert secrets_app.models.Secret
    assert importlib.import_module("guard_test_internal.core").SECRET == "internal"


def test_without_the_guard_the_same_code_imports(workspace):
    assert installed_import_guard() is None
    assert importlib.import_module("bad_import")


def test_install_is_idempotent_and_uninstall_restores_imports(workspace):
    import builtins

    original = builtins.__import__
    first = install_import_guard(workspace)
    second = install_import_guard(workspace)
    assert installed_import_guard() is second
    assert sum(1 for finder in sys.meta_path if finder in (first, second)) == 1
    uninstall_import_guard()
    assert builtins.__import__ is original
    assert first not in sys.meta_path and second not in sys.meta_path
