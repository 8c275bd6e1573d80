"""CI step: audit the locked dependencies for known vulnerabilities (pip-audit over ``uv.lock``).

    python3 .ci/audit.py

Exit 1 when a locked package has a known vulnerability that a newer release fixes (upgrade it in uv.lock).
Exit 0, saying so plainly, when there is nothing to fix — or when the vulnerability service could not be
reached, so no package could be audited: an offline CI machine must not fail for that, but it must not pass
silently either (the step then prints SKIPPED and why). A vulnerability without a fixed release is reported,
not failed on: there is nothing to upgrade to.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

PIP_AUDIT = "pip-audit==2.10.1"
ROOT = Path(__file__).resolve().parents[1]


def verdict(report: dict[str, Any] | None, error: str = "") -> tuple[int, str]:
    """(exit code, message) for a pip-audit JSON report, or for no report at all (the tool failed)."""
    if report is None:
        return 0, f"SKIPPED: dependency audit could not run ({error.strip().splitlines()[-1:] or ['no output']})"
    deps = report.get("dependencies", [])
    skipped = [d for d in deps if d.get("skip_reason")]
    audited = [d for d in deps if not d.get("skip_reason")]
    if deps and not audited:
        reason = skipped[0]["skip_reason"]
        return 0, (f"SKIPPED: none of the {len(deps)} locked packages could be audited — the vulnerability "
                   f"service is unreachable from here ({reason})")
    fixable, unfixable = [], []
    for d in audited:
        for v in d.get("vulns", []):
            line = f"{d['name']} {d['version']}: {v['id']}" + (
                f" (fixed in {', '.join(v['fix_versions'])})" if v.get("fix_versions") else " (no fix released)")
            (fixable if v.get("fix_versions") else unfixable).append(line)
    lines = [f"audited {len(audited)} locked packages" + (f", {len(skipped)} could not be audited" if skipped else "")]
    lines += [f"  VULNERABLE {x}" for x in fixable] + [f"  known, unfixed: {x}" for x in unfixable]
    if fixable:
        lines.append("upgrade these in uv.lock (uv lock --upgrade-package NAME)")
        return 1, "\n".join(lines)
    lines.append("no known vulnerability with a fix")
    return 0, "\n".join(lines)


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        requirements, out = Path(tmp) / "requirements.txt", Path(tmp) / "audit.json"
        subprocess.run(["uv", "export", "--no-hashes", "--frozen", "--format", "requirements-txt",
                        "--no-emit-project", "--quiet", "-o", str(requirements)], cwd=ROOT, check=True)
        proc = subprocess.run(
            ["uvx", PIP_AUDIT, "-r", str(requirements), "--no-deps", "--disable-pip", "--progress-spinner", "off",
             "-f", "json", "-o", str(out)],
            cwd=ROOT, capture_output=True, text=True, timeout=600, check=False,
        )
        report = json.loads(out.read_text()) if out.exists() and out.stat().st_size else None
    code, message = verdict(report, proc.stderr)
    print(f"dependency audit: {message}")
    return code


if __name__ == "__main__":
    sys.exit(main())
