"""scripts/audit_deps.py: what makes the dependency audit of `make test` fail."""

import importlib.util
from pathlib import Path

import pytest
from django.conf import settings

_spec = importlib.util.spec_from_file_location("audit_deps", Path(settings.BASE_DIR) / "scripts" / "audit_deps.py")
audit_deps = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(audit_deps)

VULN = {"id": "PYSEC-2099-1", "aliases": ["GHSA-aaaa-bbbb-cccc"], "fix_versions": ["9.9.9"]}


def test_a_clean_report_passes():
    report = {"dependencies": [{"name": "django", "version": "5.2.19", "vulns": []}]}
    assert audit_deps.evaluate(report, {}) == ([], [], [])


def test_an_unexplained_vulnerability_fails_and_names_the_fix():
    report = {"dependencies": [{"name": "django", "version": "5.2.19", "vulns": [VULN]}]}
    vulnerable, skipped, _ = audit_deps.evaluate(report, {})
    assert vulnerable == ["django==5.2.19: PYSEC-2099-1 (fixed in: 9.9.9)"]


def test_an_explained_vulnerability_passes_by_id_or_alias():
    report = {"dependencies": [{"name": "django", "version": "5.2.19", "vulns": [VULN]}]}
    assert audit_deps.evaluate(report, {"GHSA-aaaa-bbbb-cccc": "not reachable"}) == ([], [], ["GHSA-aaaa-bbbb-cccc"])


def test_a_package_that_could_not_be_audited_fails():
    report = {"dependencies": [{"name": "django", "skip_reason": "Dependency not found on PyPI"}]}
    _, skipped, _ = audit_deps.evaluate(report, {})
    assert skipped == ["django: Dependency not found on PyPI"]


def test_ignore_file_needs_a_reason(tmp_path):
    good = tmp_path / "good"
    good.write_text("# comment\n\nPYSEC-2099-1 only the admin can reach it # really\n")
    assert audit_deps.read_ignores(good) == {"PYSEC-2099-1": "only the admin can reach it # really"}
    bad = tmp_path / "bad"
    bad.write_text("PYSEC-2099-1\n")
    with pytest.raises(SystemExit, match="needs a reason"):
        audit_deps.read_ignores(bad)


def test_the_committed_ignore_file_parses():
    assert isinstance(audit_deps.read_ignores(Path(settings.BASE_DIR) / ".pip-audit-ignore"), dict)


def test_skip_switch(monkeypatch, capsys):
    monkeypatch.setenv("SKIP_DEP_AUDIT", "1")
    assert audit_deps.main([]) == 0
    assert "SKIPPED" in capsys.readouterr().out
