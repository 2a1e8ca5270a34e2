"""The analysis report: one model's processes, findings and diagnostics as data.

This is the ``panjereh.analysis/1`` contract (``contracts/analysis.schema.json``)
that outside tools rely on. :func:`build_report` assembles it from the typed
pieces; :func:`error_report` is the report of an input that could not be read
at all. Keep the shape stable: extend with optional fields only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from bpmn.diagnostics import Diagnostic, sort_key
from bpmn.errors import LoadError
from bpmn.model import Model

SCHEMA_ID = "panjereh.analysis/1"


class FindingLike(Protocol):
    kind: str
    replaceable: bool
    documents: Sequence[Any]

    def to_json(self) -> dict[str, Any]: ...


def build_report(
    file: str,
    model: Model,
    findings: Iterable[FindingLike],
    diagnostics: Iterable[Diagnostic],
    executable: Mapping[str, bool] | None = None,
) -> dict[str, Any]:
    """The report of one analysed model.

    ``executable`` maps process ids to whether an executable spec could be
    built; processes missing from it are reported without the field.
    """
    findings = list(findings)
    processes = []
    total_activities = 0
    for proc in model.processes:
        n = len(proc.activities)
        total_activities += n
        entry: dict[str, Any] = {"id": proc.id, "name": proc.display_name, "activities": n}
        if executable is not None and proc.id in executable:
            entry["executable"] = executable[proc.id]
        processes.append(entry)
    paper = [f for f in findings if f.kind == "paper_document"]
    return {
        "schema": SCHEMA_ID,
        "file": file,
        "processes": processes,
        "findings": [f.to_json() for f in findings],
        "diagnostics": [d.to_json() for d in sorted(diagnostics, key=sort_key)],
        "summary": {
            "activities": total_activities,
            "paper_steps": len(paper),
            "replaceable_steps": sum(1 for f in paper if f.replaceable),
            "documents_requested": sum(len(f.documents) for f in paper),
        },
    }


def error_report(file: str, error: LoadError) -> dict[str, Any]:
    """The report of an input refused before analysis (hostile, broken, not BPMN)."""
    diag = Diagnostic("error", error.code, error.message, None, error.line)
    return {
        "schema": SCHEMA_ID,
        "file": file,
        "error": {"code": error.code, "message": error.message, "line": error.line},
        "processes": [],
        "findings": [],
        "diagnostics": [diag.to_json()],
        "summary": {"activities": 0, "paper_steps": 0, "replaceable_steps": 0, "documents_requested": 0},
    }
