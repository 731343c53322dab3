#!/usr/bin/env python3
"""Known vulnerabilities in the pinned runtime requirements (`make audit-deps`, part of `make test`).

Runs pip-audit on requirements.txt against PyPI's advisory data and fails when:

- a pinned package (or one it pulls in) has a known vulnerability that `.pip-audit-ignore` does not
  explain: fix it by bumping the pin, or add `<advisory id> <reason>` to `.pip-audit-ignore`;
- with `STRICT_DEP_AUDIT=1` (set it where PyPI's advisory data is reachable, e.g. a release pipeline):
  any package could not be audited — an audit that skips packages proves nothing.

Without STRICT_DEP_AUDIT, packages that could not be audited (the advisory service unreachable, as
on the offline build machines of this project) are reported in a loud WARNING and do not fail the
build; a vulnerability that *is* reported always fails it. `SKIP_DEP_AUDIT=1` skips the step.

    python3 scripts/audit_deps.py [--requirements requirements.txt] [--ignore-file .pip-audit-ignore]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def read_ignores(path: Path) -> dict[str, str]:
    """`<id> <reason>` per line; `#` starts a comment. A line without a reason is an error."""
    ignores: dict[str, str] = {}
    if not path.exists():
        return ignores
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        advisory, _, reason = line.partition(" ")
        if not reason.strip():
            raise SystemExit(f"{path.name}:{number}: '{advisory}' needs a reason after the id")
        ignores[advisory] = reason.strip()
    return ignores


def evaluate(report: dict, ignores: dict[str, str]) -> tuple[list[str], list[str], list[str]]:
    """(unexplained vulnerabilities, packages that could not be audited, ignored advisories that were seen)."""
    vulnerable, skipped, used = [], [], []
    for dependency in report.get("dependencies", []):
        name, version = dependency.get("name"), dependency.get("version", "?")
        if dependency.get("skip_reason"):
            skipped.append(f"{name}: {dependency['skip_reason']}")
            continue
        for vuln in dependency.get("vulns", []):
            ids = [vuln["id"], *vuln.get("aliases", [])]
            explained = next((i for i in ids if i in ignores), None)
            if explained:
                used.append(explained)
                continue
            fixed = ", ".join(vuln.get("fix_versions", [])) or "no fixed release yet"
            vulnerable.append(f"{name}=={version}: {vuln['id']} (fixed in: {fixed})")
    return vulnerable, skipped, used


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requirements", default=str(ROOT / "requirements.txt"))
    parser.add_argument("--ignore-file", default=str(ROOT / ".pip-audit-ignore"))
    args = parser.parse_args(argv)

    if os.environ.get("SKIP_DEP_AUDIT") == "1":
        print("WARNING: dependency audit SKIPPED (SKIP_DEP_AUDIT=1): known vulnerabilities were NOT checked.")
        return 0

    ignores = read_ignores(Path(args.ignore_file))
    command = [
        str(Path(sys.executable).with_name("pip-audit")),
        "-r",
        args.requirements,
        "--progress-spinner",
        "off",
        "--format",
        "json",
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False)
    try:
        report = json.loads(completed.stdout)
    except json.JSONDecodeError:
        print(completed.stderr, file=sys.stderr)
        print("FAILED: pip-audit did not produce a report (see above). Offline? SKIP_DEP_AUDIT=1 skips.")
        return 1

    vulnerable, skipped, used = evaluate(report, ignores)
    audited = len(report.get("dependencies", [])) - len(skipped)
    for advisory in sorted(set(ignores) - set(used)):
        print(f"note: {advisory} in {Path(args.ignore_file).name} no longer applies; remove it.")
    if vulnerable:
        print("FAILED: known vulnerabilities in the pinned requirements:")
        print("\n".join(f"  {line}" for line in vulnerable))
        print("Bump the pin in requirements.txt, or explain the advisory in .pip-audit-ignore.")
    if skipped:
        level = "FAILED" if os.environ.get("STRICT_DEP_AUDIT") == "1" else "WARNING"
        print(f"{level}: {len(skipped)} package(s) could not be audited (audited: {audited}):")
        print("\n".join(f"  {line}" for line in skipped[:10]))
        if len(skipped) > 10:
            print(f"  ... and {len(skipped) - 10} more")
        print(
            "The advisory service (PyPI's JSON API, https://pypi.org/pypi/<name>/<version>/json) did not answer "
            "for them. Offline or behind a mirror without it: SKIP_DEP_AUDIT=1 make test (docs/security.md)."
        )
    strict = os.environ.get("STRICT_DEP_AUDIT") == "1"
    if vulnerable or (skipped and strict):
        return 1
    if skipped:
        print(
            f"WARNING: dependency audit INCOMPLETE: {len(skipped)} of {len(skipped) + audited} packages could not "
            "be checked (advisory data unreachable). Not failing the build; set STRICT_DEP_AUDIT=1 to make this fatal."
        )
        return 0
    print(f"OK: {audited} packages audited, no known vulnerabilities" + (f" ({len(used)} explained)" if used else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
