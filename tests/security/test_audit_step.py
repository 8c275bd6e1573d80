"""The CI audit step's decision (``.ci/audit.py``): fail on a fixable known vulnerability, say SKIPPED when the
vulnerability service cannot be reached, never pass silently."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

SCRIPT = Path(__file__).resolve().parents[2] / ".ci" / "audit.py"
spec = importlib.util.spec_from_file_location("ci_audit", SCRIPT)
assert spec is not None and spec.loader is not None
audit = importlib.util.module_from_spec(spec)
spec.loader.exec_module(audit)


def dep(name: str, *vulns: dict[str, Any], skip: str | None = None) -> dict[str, Any]:
    if skip:
        return {"name": name, "skip_reason": skip}
    return {"name": name, "version": "1.0", "vulns": list(vulns)}


def test_unreachable_service_is_skipped_not_passed() -> None:
    report = {"dependencies": [dep("a", skip="Dependency not found on PyPI and could not be audited: a (1.0)"),
                               dep("b", skip="Dependency not found on PyPI and could not be audited: b (2.0)")]}
    code, message = audit.verdict(report)
    assert code == 0 and message.startswith("SKIPPED") and "2 locked packages" in message


def test_the_tool_failing_to_run_is_skipped() -> None:
    code, message = audit.verdict(None, "Traceback ...\nrequests.exceptions.ConnectionError: api.osv.dev")
    assert code == 0 and message.startswith("SKIPPED") and "ConnectionError" in message


def test_a_fixable_vulnerability_fails() -> None:
    report = {"dependencies": [dep("ok"), dep("bad", {"id": "GHSA-1", "fix_versions": ["1.1"]})]}
    code, message = audit.verdict(report)
    assert code == 1 and "VULNERABLE bad 1.0: GHSA-1 (fixed in 1.1)" in message


def test_an_unfixed_vulnerability_is_reported_but_does_not_fail() -> None:
    report = {"dependencies": [dep("meh", {"id": "PYSEC-9", "fix_versions": []})]}
    code, message = audit.verdict(report)
    assert code == 0 and "known, unfixed: meh 1.0: PYSEC-9" in message


def test_a_clean_audit_passes() -> None:
    code, message = audit.verdict({"dependencies": [dep("a"), dep("b")]})
    assert code == 0 and "audited 2 locked packages" in message and "SKIPPED" not in message
