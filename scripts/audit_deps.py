#!/usr/bin/env python3
"""Dependency vulnerability audit (pip-audit) of the installed environment, for CI.

    python scripts/audit_deps.py [--ignore-file scripts/audit-ignore.toml] [--require-network]

Exit codes: 0 clean (or skipped, said loudly), 1 a known vulnerability that the ignore file
does not justify, 2 the audit itself failed (or an ignore entry is malformed).

Never flaky offline: when the vulnerability service cannot be reached, or could not look up
most packages (a mirror without its per-version API answers "not found" for everything, and
pip-audit would then report "no known vulnerabilities"), the audit is reported as SKIPPED with
the reason and exits 0, unless --require-network (or AUDIT_REQUIRE_NETWORK=1) makes it fail.

Ignore file (TOML): each accepted finding with why it does not apply, optionally until a date:

    [[ignore]]
    id = "GHSA-xxxx-xxxx-xxxx"      # or a PYSEC-/CVE- id (aliases match too)
    package = "somepkg"
    reason = "only the CLI entry point is affected; we never run it"
    until = "2027-06-30"            # optional: after this the finding fails the build again
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tomllib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_IGNORE_FILE = ROOT / "scripts" / "audit-ignore.toml"
NETWORK_ERRORS = ("ConnectionError", "NameResolutionError", "Max retries exceeded",
                  "Temporary failure in name resolution", "timed out", "ReadTimeout",
                  "ConnectTimeout", "503 Server Error", "502 Server Error", "504 Server Error",
                  "Network is unreachable", "SSLError", "ProxyError")
MOSTLY_UNKNOWN = 0.5  # more packages than this could not be looked up: the audit did not happen


@dataclass(frozen=True)
class Ignore:
    id: str
    package: str
    reason: str
    until: date | None = None


@dataclass
class Outcome:
    status: str  # "clean" | "findings" | "skipped" | "error"
    lines: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> int:
        return {"clean": 0, "skipped": 0, "findings": 1}.get(self.status, 2)


def load_ignores(path: Path) -> list[Ignore]:
    """Entries without a package or a reason are refused: every exception is justified."""
    if not path.exists():
        return []
    data = tomllib.loads(path.read_text())
    out = []
    for i, entry in enumerate(data.get("ignore", []), 1):
        vid, pkg, reason = (str(entry.get(k, "")).strip() for k in ("id", "package", "reason"))
        if not (vid and pkg and reason):
            raise ValueError(f"{path.name} entry {i}: id, package and reason are required")
        until = entry.get("until")
        if isinstance(until, str):
            until = date.fromisoformat(until)
        out.append(Ignore(vid, pkg.lower(), reason, until))
    return out


def evaluate(report: dict[str, Any], ignores: list[Ignore], today: date) -> Outcome:
    """Decides from pip-audit's JSON report: findings not justified by the ignore file fail."""
    deps = report.get("dependencies", [])
    unknown = [d for d in deps if d.get("skip_reason")]
    if deps and len(unknown) / len(deps) > MOSTLY_UNKNOWN:
        return Outcome("skipped", [
            f"dependency audit SKIPPED: the vulnerability service could not look up "
            f"{len(unknown)} of {len(deps)} packages (an offline mirror or no network), so "
            f"this run proves nothing; run it where the service is reachable"])
    lines: list[str] = []
    failing, accepted = 0, 0
    used: set[Ignore] = set()
    for dep in deps:
        for vuln in dep.get("vulns", []):
            ids = {vuln["id"], *vuln.get("aliases", [])}
            name = str(dep["name"]).lower()
            match = next((ig for ig in ignores if ig.package == name and ig.id in ids), None)
            fixes = ", ".join(vuln.get("fix_versions", [])) or "none yet"
            where = f"{dep['name']} {dep.get('version', '?')}: {vuln['id']} (fixed in {fixes})"
            if match and (match.until is None or today <= match.until):
                accepted += 1
                used.add(match)
                lines.append(f"  accepted  {where}: {match.reason}")
            else:
                failing += 1
                note = f" (ignore entry expired {match.until})" if match else ""
                lines.append(f"  VULNERABLE {where}{note}")
    for ig in ignores:
        if ig not in used:
            lines.append(f"  note: ignore entry {ig.id} ({ig.package}) matched nothing; remove it")
    for d in unknown:
        lines.append(f"  not audited: {d['name']} ({d['skip_reason']})")
    audited = len(deps) - len(unknown)
    head = f"dependency audit: {audited} packages audited, {failing} vulnerable, " \
           f"{accepted} accepted with a justification"
    return Outcome("findings" if failing else "clean", [head, *lines])


def network_failure(stderr: str) -> str | None:
    for marker in NETWORK_ERRORS:
        if marker in stderr:
            last = next((ln for ln in reversed(stderr.strip().splitlines()) if marker in ln),
                        marker)
            return last.strip()[:300]
    return None


def run_pip_audit(service: str, timeout: int) -> tuple[int, str, str]:
    cmd = [sys.executable, "-m", "pip_audit", "--local", "--skip-editable", "--format", "json",
           "--progress-spinner", "off", "--desc", "off", "--aliases", "on",
           "--timeout", str(timeout), "--vulnerability-service", service]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout * 40,
                              cwd=ROOT)
    except subprocess.TimeoutExpired:
        return 124, "", "pip-audit timed out (ConnectTimeout: the service is too slow)"
    except FileNotFoundError as exc:
        return 127, "", str(exc)
    return proc.returncode, proc.stdout, proc.stderr


def audit(ignore_file: Path, service: str, timeout: int, require_network: bool,
          today: date | None = None) -> Outcome:
    try:
        ignores = load_ignores(ignore_file)
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        return Outcome("error", [f"dependency audit ERROR: {exc}"])
    code, out, err = run_pip_audit(service, timeout)
    report: dict[str, Any] | None = None
    if out.strip():
        try:
            report = json.loads(out)
        except json.JSONDecodeError:
            report = None
    if report is None:
        reason = network_failure(err)
        if reason:
            verdict = "FAILED (--require-network)" if require_network else "SKIPPED"
            return Outcome("error" if require_network else "skipped", [
                f"dependency audit {verdict}: the vulnerability service ({service}) is "
                f"unreachable: {reason}"])
        return Outcome("error", [f"dependency audit ERROR (pip-audit exit {code}):",
                                 err.strip()[-2000:]])
    outcome = evaluate(report, ignores, today or date.today())
    if outcome.status == "skipped" and require_network:
        return Outcome("error", [line.replace("SKIPPED", "FAILED (--require-network)")
                                 for line in outcome.lines])
    return outcome


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--ignore-file", type=Path, default=DEFAULT_IGNORE_FILE)
    p.add_argument("--service", default="pypi", choices=["pypi", "osv"])
    p.add_argument("--timeout", type=int, default=10, help="seconds per request")
    p.add_argument("--require-network", action="store_true",
                   default=os.environ.get("AUDIT_REQUIRE_NETWORK") == "1",
                   help="fail instead of skipping when the service is unreachable")
    args = p.parse_args(argv)
    outcome = audit(args.ignore_file, args.service, args.timeout, args.require_network)
    print("\n".join(outcome.lines), flush=True)
    return outcome.exit_code


if __name__ == "__main__":
    sys.exit(main())
