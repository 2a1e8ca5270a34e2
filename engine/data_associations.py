"""Data associations: which ones the engine runs, how it pairs their ends, and which it keeps as documentation.

A data association moves a value into an activity (``dataInputAssociation``:
from a data object, a data store or the process's own data input, to the
activity's data input) or out of it (``dataOutputAssociation``: from the
activity's data output to a data object, a data store or the process's
data output). SpiffWorkflow 3.2.0 runs a narrower idea of it:

* it resolves an association's far end only through a *data object
  reference* or a *data store reference*; anything else (a data object named
  directly, the process's ``dataInput``/``dataOutput``, a ``property``) and
  it refuses the model ("Cannot resolve dataInputAssociation"), which is how
  most models from modelling tools (Signavio, ADONIS, the MIWG reference
  models...) were refused;
* it ignores the near end: a data object ``D`` arrives in the task's data as
  the variable ``D`` and is taken back from the variable ``D``, whatever the
  task's ``ioSpecification`` calls its input or output; and a task with an
  ``ioSpecification`` must then have a variable of each input's id before it
  starts (it has none: the value came in as ``D``) and keeps only its
  outputs afterwards (the rest of the case's data is gone for the next steps).

:func:`rewrite_data_associations` adapts the engine's copy of the model so
that it runs what BPMN means wherever the library can, and says where it
cannot:

* a data object named directly is reached through a data object reference
  (an existing one, or ``<object id>__ref`` added beside it);
* when the activity's input or output has another name than the data object,
  the value is copied between the two names (``T = D`` before the task,
  ``D = Z`` after it, as the task's pre- and post-scripts, or at the two ends
  of a script task's script), both names being
  ones a script can use; the activity's ``ioSpecification`` goes, so that the
  task sees the case's data and passes it on, as in a task without one;
* anything else (a far end that is no data object, nor a reference to a
  named data store; names a script
  cannot use, a sub-process or an event whose inputs the library does not
  pair) is kept in the stored model and left out of the engine's copy with
  a warning (:func:`data_association_warnings`): the activity reads and
  writes the case's data, as engines that do not run data associations do.

Associations the library already runs as written (a data object reference
and no differently named input or output) are left alone. Pure XML: nothing
here needs SpiffWorkflow.
"""

from __future__ import annotations

import copy
import keyword
from dataclasses import dataclass

from lxml import etree

from bpmn.diagnostics import Diagnostic
from bpmn.load import BPMN_NS, SPIFF_NS
from bpmn.model import bpmn_local, extension_elements
from bpmn.references import describe

_Q = f"{{{BPMN_NS}}}"
NOT_RUN = "exec.data_association"
REFERENCE_SUFFIX = "__ref"
# Tasks whose pre- and post-scripts the library runs around the task's own work (SpiffBpmnTask);
# sub-processes and call activities pass data to their inside by rules of their own.
_SCRIPTED = frozenset({"task", "manualTask", "userTask", "scriptTask", "serviceTask", "businessRuleTask",
                       "sendTask", "receiveTask"})


@dataclass(frozen=True)
class Dropped:
    """An association (or one end of it) left out of the engine's copy, and why."""

    element_id: str
    element: str  # how a message names the activity or event
    line: int | None
    reads: bool
    far: str  # how a message names what it reads or writes
    why: str


def rewrite_data_associations(tree: etree._Element) -> list[Dropped]:
    """Rewrite ``tree`` (the engine's copy) as the module docstring says; return what was left out."""
    by_id = {el.get("id"): el for el in tree.iter() if isinstance(el.tag, str) and el.get("id")}
    dropped: list[Dropped] = []
    for el in list(tree.iter()):
        if isinstance(el.tag, str) and _associations(el):
            _rewrite_element(el, by_id, dropped)
    return dropped


def data_association_warnings(root: etree._Element) -> list[Diagnostic]:
    """A warning for every association the engine keeps as documentation only (the model is not changed)."""
    return [Diagnostic("warning", NOT_RUN,
                       f"the {d.element} {'reads' if d.reads else 'writes'} {d.far} through a data association "
                       f"the engine does not run ({d.why}); the step reads and writes the case's data instead",
                       d.element_id, d.line)
            for d in rewrite_data_associations(copy.deepcopy(root))]


def _associations(el: etree._Element) -> list[etree._Element]:
    return [a for a in el if bpmn_local(a) in ("dataInputAssociation", "dataOutputAssociation")]


def _ref_text(ref: etree._Element | None) -> str:
    return (ref.text or "").strip() if ref is not None else ""


def _usable_name(name: str) -> bool:
    """A variable name a script can assign and read (the sandbox refuses dunder names)."""
    return name.isidentifier() and not keyword.iskeyword(name) and not name.startswith("__")


def _described(el: etree._Element | None, ref: str) -> str:
    if el is None:
        return f"{ref!r} (not in this file)"
    return describe(bpmn_local(el) or etree.QName(el).localname, el.get("name"), el.get("id"))


def _rewrite_element(el: etree._Element, by_id: dict[str, etree._Element], dropped: list[Dropped]) -> None:
    io = el.find(f"{_Q}ioSpecification")
    params = {p.get("id") for p in io.iter(f"{_Q}dataInput", f"{_Q}dataOutput")} if io is not None else set()
    kind = bpmn_local(el)
    # A multi-instance activity names its collection among its ioSpecification's inputs: that stays.
    keeps_io = el.find(f"{_Q}multiInstanceLoopCharacteristics") is not None
    before: list[str] = []
    after: list[str] = []
    drop_io = False
    who = describe(kind, el.get("name"), el.get("id"))

    def drop(reads: bool, far: str, why: str) -> None:
        dropped.append(Dropped(el.get("id") or "", who, el.sourceline, reads, far, why))

    for assoc in _associations(el):
        reads = bpmn_local(assoc) == "dataInputAssociation"
        far_tag, near_tag = ("sourceRef", "targetRef") if reads else ("targetRef", "sourceRef")
        near = _ref_text(assoc.find(f"{_Q}{near_tag}"))
        variables: list[str] = []
        for ref in assoc.findall(f"{_Q}{far_tag}"):
            target = by_id.get(_ref_text(ref))
            variable = _data_object_variable(target, ref, by_id)
            if variable is not None:
                variables.append(variable)
            elif _backed_store(target, by_id):
                variables.append("")  # a data store: the library reads and writes it by its own rules
            else:
                drop(reads, _described(target, _ref_text(ref)),
                     "it is neither a data object of the process nor a named data store")
                assoc.remove(ref)
        if not variables:
            assoc.getparent().remove(assoc)
            drop_io = drop_io or near in params
            continue
        if near not in params or near in variables:
            continue  # the library pairs them as written
        # The activity's input or output has a name of its own: copy between the two names.
        variable = variables[0] if len(variables) == 1 else ""
        if kind in _SCRIPTED and not keeps_io and variable and _usable_name(variable) and _usable_name(near):
            (before if reads else after).append(f"{near} = {variable}" if reads else f"{variable} = {near}")
            drop_io = True
            continue
        why = ("the activity's own input and output cannot be paired with it here" if kind not in _SCRIPTED
               or keeps_io else f"{near!r} or {variable!r} is not a name a script can use" if variable
               else "it has several sources")
        drop(reads, ", ".join(_described(by_id.get(v), v) for v in variables if v) or "a data store", why)
        assoc.getparent().remove(assoc)
        drop_io = True
    if drop_io and io is not None and not keeps_io:
        el.remove(io)
    if before or after:
        _add_scripts(el, before, after)


def _backed_store(target: etree._Element | None, by_id: dict[str, etree._Element]) -> bool:
    """Whether ``target`` is a data store reference the library resolves: to a named data store.

    bpmn-js draws a data store reference with no data store behind it; such a
    reference documents where data goes, and stays documentation here.
    """
    if target is None or bpmn_local(target) != "dataStoreReference":
        return False
    store = by_id.get(target.get("dataStoreRef") or "")
    return store is not None and bpmn_local(store) == "dataStore" and bool(store.get("name"))


def _data_object_variable(target: etree._Element | None, ref: etree._Element,
                          by_id: dict[str, etree._Element]) -> str | None:
    """The variable a data object end stands for (its id), pointing ``ref`` at a reference if it named the object."""
    if target is None:
        return None
    local = bpmn_local(target)
    if local == "dataObjectReference":
        obj = by_id.get(target.get("dataObjectRef") or "")
        return obj.get("id") if obj is not None and bpmn_local(obj) == "dataObject" else None
    if local != "dataObject":
        return None
    ref.text = _reference_to(target, by_id)
    return target.get("id")


def _reference_to(obj: etree._Element, by_id: dict[str, etree._Element]) -> str:
    """The id of a data object reference to ``obj`` in its container (added when there is none)."""
    parent = obj.getparent()
    for sibling in parent if parent is not None else ():
        if bpmn_local(sibling) == "dataObjectReference" \
                and sibling.get("dataObjectRef") == obj.get("id"):
            return sibling.get("id")
    base = f"{obj.get('id')}{REFERENCE_SUFFIX}"
    ref_id, n = base, 1
    while ref_id in by_id:
        n += 1
        ref_id = f"{base}{n}"
    added = etree.Element(f"{_Q}dataObjectReference", id=ref_id, dataObjectRef=obj.get("id") or "")
    obj.addnext(added)
    by_id[ref_id] = added
    return ref_id


def _add_scripts(el: etree._Element, before: list[str], after: list[str]) -> None:
    """Put the copies in the task's pre-script (before the model's own) and post-script (after it).

    The library reads no pre- or post-script on a script task: there, the
    copies go at the start and the end of the script itself.
    """
    if bpmn_local(el) == "scriptTask":
        script = el.find(f"{_Q}script")
        if script is None:
            script = etree.SubElement(el, f"{_Q}script")
        script.text = "\n".join(part for part in (*before, (script.text or "").strip(), *after) if part)
        return
    ext = extension_elements(el)
    for tag, lines, first in (("preScript", before, True), ("postScript", after, False)):
        if not lines:
            continue
        script = ext.find(f"{{{SPIFF_NS}}}{tag}")
        if script is None:
            script = etree.SubElement(ext, f"{{{SPIFF_NS}}}{tag}")
        own = (script.text or "").strip()
        ours = "\n".join(lines)
        script.text = "\n".join(part for part in ((ours, own) if first else (own, ours)) if part)
