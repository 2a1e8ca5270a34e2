"""Form edits of a redesign: upload fields leave a form, identifier fields join one.

Three form styles are edited, each where it lives:

* Camunda ``camunda:formData`` inside the task: ``camunda:formField`` elements
  are removed or appended in the (already copied) tree;
* SpiffWorkflow JSON-Schema files (plus their UI schema): a copy is edited and
  written under a new name, and the task's ``spiffworkflow:property`` is
  pointed at it, so the original file, which other versions may still use,
  is never touched;
* Camunda form files (``.form`` JSON): the same, for ``camunda:formKey``.

New forms for steps the redesign adds (consent, fallback upload, identifiers)
are built here too, in the style the model already uses.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from lxml import etree

from bpmn.load import BPMN_NS, CAMUNDA_NS, SPIFF_NS

FILE_FORMAT = "data-url"


@dataclass(frozen=True)
class NewField:
    """A field the redesign adds to a form."""

    id: str
    label: str
    type: str = "string"          # string | boolean | file
    required: bool = True
    pattern: str | None = None


def _q(ns: str, tag: str) -> str:
    return f"{{{ns}}}{tag}"


# --------------------------------------------------------------------------- Camunda formData

def camunda_remove_fields(task: etree._Element, field_ids: Iterable[str]) -> list[str]:
    """Remove ``camunda:formField`` elements by id; returns the ids actually removed."""
    wanted = set(field_ids)
    removed = []
    for data in task.iter(_q(CAMUNDA_NS, "formData")):
        for f in list(data.iterchildren(_q(CAMUNDA_NS, "formField"))):
            if f.get("id") in wanted:
                _remove_keeping_tail(f)
                removed.append(f.get("id"))
    return removed


def _remove_keeping_tail(el: etree._Element) -> None:
    """Remove an element without losing the whitespace that followed it (pretty-printed files stay tidy)."""
    parent = el.getparent()
    prev = el.getprevious()
    if el.tail is not None:
        if prev is not None and el.getnext() is None:
            prev.tail = el.tail
        elif prev is None and el.getnext() is None:
            parent.text = el.tail
    parent.remove(el)


def camunda_field(f: NewField, nsmap: dict[str | None, str] | None = None) -> etree._Element:
    """One ``camunda:formField`` element for a new field."""
    el = etree.Element(_q(CAMUNDA_NS, "formField"), nsmap=nsmap)
    el.set("id", f.id)
    el.set("label", f.label)
    el.set("type", {"string": "string", "boolean": "boolean", "file": "file"}[f.type])
    if f.required:
        validation = etree.SubElement(el, _q(CAMUNDA_NS, "validation"))
        etree.SubElement(validation, _q(CAMUNDA_NS, "constraint")).set("name", "required")
    return el


def camunda_add_fields(task: etree._Element, fields: Sequence[NewField]) -> list[str]:
    """Append fields to the task's first ``camunda:formData``; returns the ids added (existing ids are skipped)."""
    data = next(task.iter(_q(CAMUNDA_NS, "formData")), None)
    if data is None:
        return []
    present = {f.get("id") for f in data.iterchildren(_q(CAMUNDA_NS, "formField"))}
    added = []
    existing = list(data.iterchildren(_q(CAMUNDA_NS, "formField")))
    last = existing[-1] if existing else None
    for f in fields:
        if f.id in present:
            continue
        el = camunda_field(f)
        if last is not None:
            el.tail = last.tail
            last.addnext(el)
        else:
            data.insert(0, el)
        last = el
        added.append(f.id)
        present.add(f.id)
    return added


def camunda_form_data(fields: Sequence[NewField]) -> etree._Element:
    """A ``camunda:formData`` element holding new fields (for a step the redesign adds)."""
    data = etree.Element(_q(CAMUNDA_NS, "formData"))
    for f in fields:
        data.append(camunda_field(f))
    return data


# --------------------------------------------------------------------------- JSON forms

def _dump(doc: Any) -> bytes:
    return (json.dumps(doc, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def _load(blob: bytes) -> Any:
    return json.loads(blob.decode("utf-8-sig"))


def schema_edit(blob: bytes, remove: Iterable[str] = (),
                add: Sequence[NewField] = ()) -> tuple[bytes, list[str], list[str]]:
    """A JSON-Schema form without the ``remove`` fields and with the ``add`` fields.

    Field ids are those :mod:`bpmn.formfields` reports (``a.b`` for nested
    objects). Returns the new bytes and the ids removed and added.
    """
    doc = _load(blob)
    removed: list[str] = []
    for fid in remove:
        if _drop_property(doc, fid.split(".")):
            removed.append(fid)
    added: list[str] = []
    props = doc.setdefault("properties", {}) if isinstance(doc, dict) else {}
    for f in add:
        if f.id in props:
            continue
        spec: dict[str, Any] = {"title": f.label}
        if f.type == "boolean":
            spec["type"] = "boolean"
        elif f.type == "file":
            spec.update({"type": "string", "format": FILE_FORMAT})
        else:
            spec["type"] = "string"
            if f.pattern:
                spec["pattern"] = f.pattern
        props[f.id] = spec
        if f.required:
            req = doc.setdefault("required", [])
            if isinstance(req, list) and f.id not in req:
                req.append(f.id)
        added.append(f.id)
    return _dump(doc), removed, added


def _drop_property(schema: Any, path: list[str]) -> bool:
    if not isinstance(schema, dict):
        return False
    props = schema.get("properties")
    if not isinstance(props, dict) or path[0] not in props:
        return False
    if len(path) > 1:
        return _drop_property(props[path[0]], path[1:])
    del props[path[0]]
    req = schema.get("required")
    if isinstance(req, list) and path[0] in req:
        req.remove(path[0])
        if not req:
            del schema["required"]
    return True


def ui_schema_edit(blob: bytes, remove: Iterable[str]) -> tuple[bytes, bool]:
    """A UI schema without the entries (and ``ui:order`` items) of removed fields; (bytes, changed)."""
    doc = _load(blob)
    changed = False
    for fid in remove:
        node = doc
        parts = fid.split(".")
        for part in parts[:-1]:
            node = node.get(part) if isinstance(node, dict) else None
        if not isinstance(node, dict):
            continue
        if parts[-1] in node:
            del node[parts[-1]]
            changed = True
        order = node.get("ui:order")
        if isinstance(order, list) and parts[-1] in order:
            order.remove(parts[-1])
            changed = True
    return _dump(doc), changed


def new_schema(title: str, fields: Sequence[NewField]) -> bytes:
    """A JSON-Schema form for a step the redesign adds."""
    return schema_edit(_dump({"title": title, "type": "object", "properties": {}}), (), fields)[0]


def form_js_edit(blob: bytes, remove: Iterable[str] = (),
                 add: Sequence[NewField] = ()) -> tuple[bytes, list[str], list[str]]:
    """A Camunda ``.form`` file without the ``remove`` components and with ``add`` ones appended."""
    doc = _load(blob)
    wanted = set(remove)
    removed: list[str] = []

    def prune(node: Any) -> None:
        if not isinstance(node, dict) or not isinstance(node.get("components"), list):
            return
        keep = []
        for comp in node["components"]:
            key = comp.get("key") if isinstance(comp, dict) else None
            if key in wanted:
                removed.append(key)
                continue
            prune(comp)
            keep.append(comp)
        node["components"] = keep

    prune(doc)
    added: list[str] = []
    comps = doc.setdefault("components", []) if isinstance(doc, dict) else []
    keys = {c.get("key") for c in comps if isinstance(c, dict)}
    for f in add:
        if f.id in keys:
            continue
        kind = {"boolean": "checkbox", "file": "filepicker"}.get(f.type, "textfield")
        comp: dict[str, Any] = {"type": kind, "key": f.id, "label": f.label, "id": f"Field_{f.id}"}
        if f.required:
            comp["validate"] = {"required": True}
        comps.append(comp)
        added.append(f.id)
    return _dump(doc), removed, added


# --------------------------------------------------------------------------- references

_SCHEMA_SUFFIX = re.compile(r"(-(?:ui)?schema)?(\.json|\.form)$", re.IGNORECASE)


def new_file_name(ref: str, taken: Callable[[str], bool], tag: str = "once") -> str:
    """A new name next to ``ref`` for an edited copy: ``x-schema.json`` → ``x.once-schema.json``."""
    m = _SCHEMA_SUFFIX.search(ref)
    stem, suffix = (ref[:m.start()], ref[m.start():]) if m else (ref, "")
    for n in range(1, 1000):
        label = tag if n == 1 else f"{tag}{n}"
        name = f"{stem}.{label}{suffix}"
        if not taken(name):
            return name
    raise ValueError(f"no free file name next to {ref!r}")


def spiff_properties(task: etree._Element) -> dict[str, etree._Element]:
    """The task's ``spiffworkflow:property`` elements by name."""
    ext = task.find(_q(BPMN_NS, "extensionElements"))
    if ext is None:
        return {}
    return {p.get("name"): p for p in ext.iter(_q(SPIFF_NS, "property")) if p.get("name")}


def spiff_form_element(schema_ref: str) -> etree._Element:
    """``spiffworkflow:properties`` pointing a new user task at its JSON-Schema file."""
    props = etree.Element(_q(SPIFF_NS, "properties"))
    prop = etree.SubElement(props, _q(SPIFF_NS, "property"))
    prop.set("name", "formJsonSchemaFilename")
    prop.set("value", schema_ref)
    return props


def set_camunda_form_key(task: etree._Element, old_ref: str, new_ref: str) -> None:
    """Point ``camunda:formKey`` (keeping its ``camunda-forms:...`` prefix) at a new .form file."""
    key = task.get(_q(CAMUNDA_NS, "formKey")) or ""
    task.set(_q(CAMUNDA_NS, "formKey"), key.replace(old_ref, new_ref) if old_ref in key else new_ref)


# --------------------------------------------------------------------------- edited copies of form files

_FORM_KEY_PREFIXES = ("camunda-forms:deployment:", "camunda-forms:app:", "embedded:deployment:",
                      "embedded:app:", "deployment:", "app:")


def form_file_of(form_key: str) -> str:
    """The file a Camunda form key names (``camunda-forms:deployment:x.form`` → ``x.form``)."""
    for prefix in _FORM_KEY_PREFIXES:
        if form_key.startswith(prefix):
            return form_key[len(prefix):]
    return form_key


class FormStore:
    """Form files as the redesign leaves them: originals read lazily, edited copies under new names.

    One task's form is copied at most once: a second edit (fields removed,
    then identifiers added) edits the same new file.
    """

    def __init__(self, read: Callable[[str], bytes | None]) -> None:
        self._read = read
        self.files: dict[str, bytes] = {}
        self._copy_of: dict[tuple[str, str], str] = {}   # (task id, original ref) -> new ref

    def taken(self, name: str) -> bool:
        """Whether a file of that name exists next to the model or was written already."""
        return name in self.files or self._read(name) is not None

    def read(self, ref: str) -> bytes | None:
        """The current bytes of a form file (an edited copy wins over the original)."""
        return self.files.get(ref) if ref in self.files else self._read(ref)

    def _target(self, task_id: str, ref: str) -> str:
        key = (task_id, ref)
        if key not in self._copy_of:
            self._copy_of[key] = new_file_name(ref, self.taken)
        return self._copy_of[key]

    def edit(self, task: etree._Element, style: str, ref: str | None, ui_ref: str | None,
             remove: Sequence[str] = (), add: Sequence[NewField] = ()) -> tuple[list[str], list[str], list[str]]:
        """Remove and add fields in a task's form, wherever it lives.

        Returns (removed ids, added ids, new file names). Camunda formData is
        edited in the tree; JSON forms are copied under new names and the task
        is pointed at the copies.
        """
        if style == "camunda":
            return camunda_remove_fields(task, remove), camunda_add_fields(task, add), []
        if ref and style == "camunda-form":
            ref = form_file_of(ref)
        if not ref:
            return [], [], []
        current = self._copy_of.get((task.get("id"), ref), ref)
        blob = self.read(current)
        if blob is None:
            return [], [], []
        try:
            if style == "spiff":
                new_blob, removed, added = schema_edit(blob, remove, add)
            else:
                new_blob, removed, added = form_js_edit(blob, remove, add)
        except (ValueError, AttributeError, TypeError):
            return [], [], []   # a form file we cannot parse as expected stays untouched
        if not removed and not added:
            return [], [], []
        name = self._target(task.get("id"), ref)
        self.files[name] = new_blob
        written = [name]
        if style == "spiff":
            props = spiff_properties(task)
            props["formJsonSchemaFilename"].set("value", name)
            if ui_ref and removed and "formUiSchemaFilename" in props:
                ui_current = self._copy_of.get((task.get("id"), ui_ref), ui_ref)
                ui_blob = self.read(ui_current)
                if ui_blob is not None:
                    try:
                        ui_new, changed = ui_schema_edit(ui_blob, removed)
                    except (ValueError, AttributeError, TypeError):
                        changed = False
                    if changed:
                        ui_name = self._target(task.get("id"), ui_ref)
                        self.files[ui_name] = ui_new
                        props["formUiSchemaFilename"].set("value", ui_name)
                        written.append(ui_name)
        else:
            set_camunda_form_key(task, ref, name)
        return removed, added, written
