"""The package's public surface and its independence from Django."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import bifrost

ROOT = Path(bifrost.__file__).resolve().parent.parent


def test_all_names_exist() -> None:
    for name in bifrost.__all__:
        assert hasattr(bifrost, name), name
    for name in ("workflow", "param", "data_provider", "config", "secrets", "oauth", "UserError", "context"):
        assert name in bifrost.__all__


def test_registry_attribute_is_usable_as_documented() -> None:
    assert callable(bifrost.registry.capture)
    assert isinstance(bifrost.registry.workflows, dict)


def test_importable_without_django() -> None:
    """Import in a fresh interpreter where any attempt to import django fails loudly."""
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'django' or name.startswith(('django.', 'rest_framework', 'celery')):\n"
        "            raise ImportError('bifrost must not import ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import bifrost, bifrost.params, bifrost.masking, bifrost.results, bifrost.runtime\n"
        "assert not [m for m in sys.modules if m.startswith('django')]\n"
        "print('ok')\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"
