"""Dependencies point one way, and SpiffWorkflow stays behind one adapter."""

from __future__ import annotations

import ast
import configparser
import importlib
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGES = ("bpmn", "engine", "forms", "webui")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module.split(".")[0])
    return found


def test_import_linter_contracts_hold():
    exe = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(exe)], cwd=REPO, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "BROKEN" not in result.stdout


def test_only_one_engine_module_imports_spiffworkflow():
    users = sorted(
        str(p.relative_to(REPO))
        for pkg in PACKAGES
        for p in (REPO / pkg).rglob("*.py")
        if "SpiffWorkflow" in _imports(p)
    )
    assert users == ["engine/spiff.py"]


def test_bpmn_imports_no_other_layer_and_no_framework():
    allowed_first_party = {"bpmn"}
    for p in (REPO / "bpmn").rglob("*.py"):
        bad = _imports(p) & ({"engine", "forms", "webui", "flask", "sqlalchemy", "SpiffWorkflow"} - allowed_first_party)
        assert not bad, f"{p.relative_to(REPO)} imports {sorted(bad)}"


def test_console_scripts_import():
    cfg = configparser.ConfigParser()
    cfg.read(REPO / "setup.cfg")
    scripts = [line.strip() for line in cfg["options.entry_points"]["console_scripts"].splitlines() if line.strip()]
    assert scripts
    for line in scripts:
        target = line.split("=", 1)[1].strip()
        module, func = target.split(":")
        assert callable(getattr(importlib.import_module(module), func)), line
