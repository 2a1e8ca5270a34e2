"""Diagnostics: what is wrong (or worth knowing) about a model, as data.

A diagnostic is never raised. Validation, the executability check and the
loader's refusals all produce :class:`Diagnostic` values that reports, the
command line and the web UI show with the element and line they concern.
Codes are stable dotted names (``structure.no_start_event``) that tools may
filter on; messages are for people.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning", "info"]
SEVERITY_ORDER = {"error": 0, "warning": 1, "info": 2}


@dataclass(frozen=True)
class Diagnostic:
    severity: Severity
    code: str
    message: str
    element_id: str | None = None
    line: int | None = None

    def to_json(self) -> dict:
        """The contract's shape (contracts/analysis.schema.json, diagnostics)."""
        return {
            "severity": self.severity,
            "code": self.code,
            "message": self.message,
            "element_id": self.element_id,
            "line": self.line,
        }


def sort_key(d: Diagnostic) -> tuple:
    """Errors first, then by line, so reports read top to bottom."""
    return (SEVERITY_ORDER[d.severity], d.line or 0, d.code, d.element_id or "")
