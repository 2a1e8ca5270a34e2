"""Schema validity: does a model conform to the OMG BPMN 2.0 XML schemas?

The five normative XSDs ship in ``bpmn/data/xsd`` (see the NOTICE there). They
are compiled once, on first use, through a parser whose resolver serves only
those five files, so compiling can never reach the network or read anything
else on the server. Validation takes a millisecond or so per model.

libxml2 reports problems in its own words; :func:`check_schema` turns each into
a :class:`Diagnostic` with the element id and line, shortens namespace URIs to
the usual prefixes, and sorts them by what they are about:

``xsd.invalid`` (error)
    a BPMN element or attribute breaks the standard;
``xsd.invalid_diagram`` (warning)
    a diagram (BPMNDI) element does: the process itself is unaffected;
``xsd.extension`` (warning)
    a vendor extension sits where the standard allows none, or an element
    has no namespace: modelling tools do this often and it rarely matters;
``xsd.more`` (info)
    at most :data:`MAX_SCHEMA_DIAGNOSTICS` are listed, errors first; this one
    says how many more there were.
"""

from __future__ import annotations

import re
import threading
from pathlib import Path

from lxml import etree

from bpmn.diagnostics import Diagnostic, Severity, sort_key
from bpmn.load import BPMN_NS

XSD_DIR = Path(__file__).resolve().parent / "data" / "xsd"
XSD_FILES = frozenset({"BPMN20.xsd", "Semantic.xsd", "BPMNDI.xsd", "DC.xsd", "DI.xsd"})
MAX_SCHEMA_DIAGNOSTICS = 20

DI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
DC_NS = "http://www.omg.org/spec/DD/20100524/DC"
OMGDI_NS = "http://www.omg.org/spec/DD/20100524/DI"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
_PREFIX = {BPMN_NS: "bpmn", DI_NS: "bpmndi", DC_NS: "dc", OMGDI_NS: "di", XSI_NS: "xsi"}
_DIAGRAM_NS = frozenset({DI_NS, DC_NS, OMGDI_NS})

_ELEMENT = re.compile(r"^Element '(?:\{([^}]*)\})?([^']*)'")
_ATTRIBUTE = re.compile(r"attribute '(?:\{([^}]*)\})?([^']*)'")
_CLARK = re.compile(r"\{([^}]*)\}([\w.-]+)")
_EXPECTED = re.compile(r"Expected is(?: one of)? \( ([^)]*) \)")
_SUBJECT = re.compile(r"^Element '([^']*)'(?:, attribute '([^']*)')?: ")
_MAX_EXPECTED = 6


class SchemaUnavailable(RuntimeError):
    """The shipped XSDs are missing or broken: an installation problem, not a model problem."""


class _ShippedFilesOnly(etree.Resolver):
    """Serves the five shipped XSDs and refuses every other URL."""

    def resolve(self, url: str | None, pubid: str | None, context: object) -> object:
        name = (url or "").replace("\\", "/").rsplit("/", 1)[-1]
        if name in XSD_FILES:
            return self.resolve_filename(str(XSD_DIR / name), context)
        raise SchemaUnavailable(f"the BPMN schema tried to load {url!r}, which is not shipped")


_schema: etree.XMLSchema | None = None
# One lock for compiling and validating: an XMLSchema keeps its error log on
# the object, so two threads validating at once would mix their errors.
_lock = threading.Lock()


def _compile() -> etree.XMLSchema:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False,
                             dtd_validation=False, huge_tree=False)
    parser.resolvers.add(_ShippedFilesOnly())
    try:
        doc = etree.parse(str(XSD_DIR / "BPMN20.xsd"), parser)
        return etree.XMLSchema(doc)
    except (OSError, etree.XMLSyntaxError, etree.XMLSchemaParseError) as exc:
        raise SchemaUnavailable(f"cannot compile the BPMN 2.0 schema in {XSD_DIR}: {exc}") from exc


def bpmn_schema() -> etree.XMLSchema:
    """The compiled BPMN 2.0 schema (compiled on the first call, then cached)."""
    global _schema
    with _lock:
        if _schema is None:
            _schema = _compile()
        return _schema


def check_schema(root: etree._Element) -> list[Diagnostic]:
    """Diagnostics for every way ``root``'s document breaks the BPMN 2.0 schema."""
    schema = bpmn_schema()
    with _lock:
        if schema.validate(root.getroottree()):
            return []
        entries = [(e.line, e.message) for e in schema.error_log]
    by_line = _elements_by_line(root)
    found = [_diagnostic(line, message, by_line) for line, message in entries]
    found.sort(key=sort_key)
    shown = found[:MAX_SCHEMA_DIAGNOSTICS]
    if len(found) > len(shown):
        rest = found[len(shown):]
        errors = sum(1 for d in rest if d.severity == "error")
        shown.append(Diagnostic(
            "info", "xsd.more",
            f"{len(rest)} more schema problem(s) not listed ({errors} of them errors); "
            "check the file with a BPMN modeller or an XSD validator to see them all"))
    return shown


def _elements_by_line(root: etree._Element) -> dict[int, list[etree._Element]]:
    out: dict[int, list[etree._Element]] = {}
    for el in root.iter(etree.Element):
        if el.sourceline is not None:
            out.setdefault(el.sourceline, []).append(el)
    return out


def _shorten(text: str) -> str:
    def repl(m: re.Match[str]) -> str:
        prefix = _PREFIX.get(m.group(1))
        return f"{prefix}:{m.group(2)}" if prefix else m.group(0)

    def cut(m: re.Match[str]) -> str:
        items = [i.strip() for i in m.group(1).split(",")]
        more = f", … ({len(items) - _MAX_EXPECTED} more)" if len(items) > _MAX_EXPECTED else ""
        return "expected " + (", ".join(items[:_MAX_EXPECTED]) + more if len(items) > 1 else items[0])

    text = _EXPECTED.sub(cut, _CLARK.sub(repl, text)).strip()
    text = text.replace("This element is not expected.", "this element is not allowed here;")
    return _SUBJECT.sub(lambda m: f"{m.group(1)}" + (f" attribute {m.group(2)}" if m.group(2) else "") + ": ",
                        text)


def _diagnostic(line: int | None, message: str,
                by_line: dict[int, list[etree._Element]]) -> Diagnostic:
    m = _ELEMENT.match(message)
    ns, name = (m.group(1), m.group(2)) if m else (None, "")
    attr = _ATTRIBUTE.search(message)
    attr_ns = attr.group(1) if attr else None
    severity: Severity
    if ns == BPMN_NS and attr_ns is not None and attr_ns not in _PREFIX:
        code, severity = "xsd.extension", "warning"  # a vendor attribute on a BPMN element
    elif ns in _DIAGRAM_NS:
        code, severity = "xsd.invalid_diagram", "warning"
    elif ns == BPMN_NS or not ns:
        # BPMN itself, an element in no namespace at all, or a message we cannot parse.
        code, severity = "xsd.invalid", "error"
    else:
        code, severity = "xsd.extension", "warning"
    element_id = _element_id(by_line.get(line or -1, []), ns, name)
    return Diagnostic(severity, code, f"not valid BPMN 2.0 (XML schema): {_shorten(message)}",
                      element_id, line)


def _element_id(candidates: list[etree._Element], ns: str | None, name: str) -> str | None:
    """The id of the element the message is about, or of its nearest ancestor with one."""
    tag = f"{{{ns}}}{name}" if ns else name
    el = next((c for c in candidates if c.tag == tag), candidates[0] if candidates else None)
    while el is not None:
        if el.get("id"):
            return el.get("id")
        el = el.getparent()
    return None
