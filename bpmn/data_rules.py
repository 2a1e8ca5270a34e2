"""BPMN's rules for data associations and call activities' inputs and outputs (errors, with element and line).

What may be read and written, by which end (BPMN 2.0 §10.4):

* a **data input association** brings a value *into* the element: its
  source is a data object (or reference), a data store reference, a
  property, or a data input of a process that holds the element (visible to
  all its steps); never a data output of a process (that is where results
  go; an end event may send them on, though), nor a data input of a
  sub-process or task (visible only to its own associations). Its target,
  when given, is the element's own data input (or a property of it: bpmn-js
  writes one as a placeholder; or the element itself, as Signavio writes it);
* a **data output association** takes a value *out of* the element: its
  source, when given, is the element's own data output (or property); its
  target is a data object (or reference), a data store reference, a property,
  or a data output of a process that holds the element; never a data input of
  a process (that is what it was given; a start event gives it, though: the
  trigger's data is the process's input);
* a **call activity** that declares an ``ioSpecification`` must declare the
  inputs and outputs of the process it calls: as many of each, of the same
  item definitions in the same order. One without an ``ioSpecification``
  passes the case's data, as engines do.

:func:`check_data_rules` reports each breach as an ``error`` (code
``data.association`` or ``call.io_mismatch``).
"""

from __future__ import annotations

from lxml import etree

from bpmn.diagnostics import Diagnostic
from bpmn.load import BPMN_NS
from bpmn.model import bpmn_local, local
from bpmn.references import ElementIndex, describe

_Q = f"{{{BPMN_NS}}}"
_OWN_ENDS = {"dataInputAssociation": ("dataInput", "property"), "dataOutputAssociation": ("dataOutput", "property")}


def check_data_rules(root: etree._Element, index: ElementIndex) -> list[Diagnostic]:
    """Every data association and call activity signature that breaks the rules above."""
    found: list[Diagnostic] = []
    for el in root.iter():
        tag = bpmn_local(el)
        if tag in _OWN_ENDS:
            owner = el.getparent()
            if owner is not None:
                found += _association(el, tag, owner, index)
        elif tag == "callActivity":
            found += _call_signature(el, index)
    return found


def _who(el: etree._Element) -> str:
    return describe(local(el), el.get("name"), el.get("id"))


def _own(owner: etree._Element, item: etree._Element) -> bool:
    """Whether ``item`` (a data input, output or property) belongs to ``owner`` itself."""
    parent = item.getparent()
    return parent is owner or (parent is not None and local(parent) == "ioSpecification"
                               and parent.getparent() is owner)


def _process_item(item: etree._Element, owner: etree._Element) -> bool:
    """Whether ``item`` is a data input or output of a process that holds ``owner``."""
    spec = item.getparent()
    process = spec.getparent() if spec is not None and local(spec) == "ioSpecification" else None
    if process is None or local(process) != "process":
        return False
    return any(ancestor is process for ancestor in owner.iterancestors())


def _association(assoc: etree._Element, tag: str, owner: etree._Element, index: ElementIndex) -> list[Diagnostic]:
    reads = tag == "dataInputAssociation"
    far_tag, near_tag = ("sourceRef", "targetRef") if reads else ("targetRef", "sourceRef")
    problems: list[str] = []
    # Reading the process's output, writing its input: but an end event may send the results on, and a
    # start event gives the process its input.
    against, excepted = ("dataOutput", "endEvent") if reads else ("dataInput", "startEvent")
    for ref in assoc.findall(f"{_Q}{far_tag}"):
        item = index.get(ref.text)
        kind = local(item) if item is not None else ""
        if kind not in ("dataInput", "dataOutput"):
            continue  # a data object, store or property; what is dangling or no data is data.dangling's to report
        said = index.describe(ref.text or "")
        if _own(owner, item):
            problems.append(f"{'reads from' if reads else 'writes into'} its own {said}: "
                            "the association runs the wrong way")
        elif not _process_item(item, owner):
            problems.append(f"{'reads' if reads else 'writes'} {said}, which belongs to another element and is "
                            "visible only to that element's own associations")
        elif kind == against and local(owner) != excepted:
            problems.append(f"{'reads' if reads else 'writes into'} the process's {said}, which only "
                            f"{'receives results' if reads else 'gives the process its input'}")
    near = assoc.find(f"{_Q}{near_tag}")
    item = index.get(near.text) if near is not None else None
    # Signavio names the element itself as the near end: it means the element, so it is let be.
    own_end = item is owner or (item is not None and local(item) in _OWN_ENDS[tag] and _own(owner, item))
    if item is not None and local(item) != "property" and not own_end:
        wanted = "data input" if reads else "data output"
        problems.append(f"{'brings data into' if reads else 'takes data out of'} "
                        f"{index.describe(near.text or '')}, which is not one of its own {wanted}s")
    return [Diagnostic("error", "data.association",
                       f"the {_who(owner)} {problem} (data association {assoc.get('id') or 'without id'})",
                       owner.get("id"), assoc.sourceline) for problem in problems]


def _items(spec: etree._Element | None, kind: str) -> list[str]:
    return [(item.get("itemSubjectRef") or "").strip() for item in spec.findall(f"{_Q}{kind}")] \
        if spec is not None else []


def _call_signature(call: etree._Element, index: ElementIndex) -> list[Diagnostic]:
    spec = call.find(f"{_Q}ioSpecification")
    called = index.get(call.get("calledElement"))
    if spec is None or called is None:
        return []
    theirs = called.find(f"{_Q}ioSpecification")
    problems = []
    for kind, word in (("dataInput", "inputs"), ("dataOutput", "outputs")):
        mine, wanted = _items(spec, kind), _items(theirs, kind)
        if len(mine) != len(wanted):
            problems.append(f"declares {len(mine)} {word} where {_who(called)} has {len(wanted)}")
        elif any(a and b and a != b for a, b in zip(mine, wanted, strict=True)):
            problems.append(f"declares {word} of other item definitions than {_who(called)} "
                            f"({', '.join(mine)} instead of {', '.join(wanted)})")
    return [Diagnostic("error", "call.io_mismatch", f"the {_who(call)} {problem}", call.get("id"), call.sourceline)
            for problem in problems]
