"""The analysis pipeline behind ``panjereh analyze``: load, read, validate, detect, check.

``bpmn`` does the pure work; this module adds the one thing only the engine
can judge (whether SpiffWorkflow builds an executable spec) and turns each
input into a ``panjereh.analysis/1`` report. It reads files, so it lives
outside ``bpmn``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bpmn.catalog import Catalog, default_catalog
from bpmn.detect import detect
from bpmn.errors import LoadError
from bpmn.load import Source, iter_model_paths, load_path
from bpmn.model import read_model
from bpmn.report import build_report, error_report
from bpmn.validate import validate
from engine.scriptcheck import check_model_scripts
from engine.spiff import check_executable


def analyze_source(source: Source, catalog: Catalog | None = None) -> dict[str, Any]:
    """The report of one loaded model."""
    model = read_model(source)
    diagnostics = list(validate(model))
    # Scripts the safe evaluator cannot run would fail at run time: say so now.
    diagnostics.extend(check_model_scripts(model))
    result = check_executable(model)
    diagnostics.extend(result.diagnostics)
    findings = detect(model, catalog or default_catalog())
    return build_report(source.name, model, findings, diagnostics, result.processes)


def expand_inputs(paths: list[str]) -> list[str]:
    """Files to analyse, in order: folders become their sorted model files."""
    out: list[str] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            out.extend(str(f) for f in iter_model_paths(path))
        else:
            out.append(p)
    return out


def analyze_file(path: str, catalog: Catalog | None = None) -> list[dict[str, Any]]:
    """Reports for one file (a zip bundle may hold several models)."""
    try:
        sources = load_path(path)
    except LoadError as exc:
        return [error_report(path, exc)]
    return [analyze_source(s, catalog) for s in sources]


def analyze_paths(paths: list[str], catalog: Catalog | None = None) -> Iterator[dict[str, Any]]:
    """Reports for every input, one after the other."""
    for f in expand_inputs(paths):
        yield from analyze_file(f, catalog)
