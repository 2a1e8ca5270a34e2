"""The error hierarchy shared by every Panjereh package.

Everything Panjereh raises on purpose derives from :class:`PanjerehError`, so
the edges (command line, web UI) can turn it into an exit code or a page with
one ``except``. Problems *inside* a model (a dangling reference, a timer with
no time) are not errors: they are :class:`bpmn.diagnostics.Diagnostic` values
in a report. An exception here means the input could not be read at all.

    PanjerehError
    ├── LoadError        the input is not a BPMN model we are willing to read
    │                     (hostile XML, too large, not XML, not BPMN, bad zip)
    └── CatalogError     the document catalog is broken (start-up problem)
"""

from __future__ import annotations


class PanjerehError(Exception):
    """Base of every error Panjereh raises."""


class LoadError(PanjerehError):
    """An input was refused before any analysis.

    ``code`` is stable and machine-readable (``xml.entities``, ``size.file`` ...),
    ``file`` names the input (and the member inside a zip bundle), ``line`` is
    the line in that file where the problem was seen, when known.
    """

    def __init__(self, code: str, message: str, *, file: str | None = None,
                 line: int | None = None) -> None:
        self.code = code
        self.message = message
        self.file = file
        self.line = line
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        super().__init__(f"{where}{message}")


class CatalogError(PanjerehError):
    """The document catalog failed validation at load time."""
