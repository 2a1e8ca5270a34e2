"""What a step's form asks for, read from wherever the modelling tool put it.

Three styles meet in agency models:

* Camunda 7 ``camunda:formData`` / ``camunda:formField`` inside the task;
* Camunda form files (``.form`` JSON, referenced by ``camunda:formKey`` or
  Zeebe's ``formKey``/``formId``, or embedded as ``zeebe:userTaskForm``);
* SpiffWorkflow JSON-Schema files (``formJsonSchemaFilename`` and
  ``formUiSchemaFilename`` properties), looked up next to the model.

Each becomes a :class:`Form` of :class:`FormField` values. The detector only
needs labels, types and whether a field is a file upload; the richer form
model used for rendering and validation lives in the top-level ``forms``
package and builds on this one. A reference that cannot be resolved is kept
as ``Form.problem`` so validation can report it: reading never fails.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from lxml import etree

from bpmn.load import CAMUNDA_NS, SPIFF_NS, ZEEBE_NS, Source

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"

FILE_FORMATS = frozenset({"data-url", "data-uri", "binary", "file", "uri-reference-file"})
FILE_WIDGETS = frozenset({"file", "files", "FileWidget", "fileupload", "file-upload"})
_MAX_FIELDS = 2000  # a form with more is surely generated garbage; stop walking


@dataclass(frozen=True)
class FormField:
    id: str
    label: str | None
    type: str | None
    is_file: bool
    required: bool = False
    line: int | None = None  # line in the model (Camunda formData) or None (file)
    description: str | None = None


@dataclass(frozen=True)
class Form:
    style: str  # "camunda" | "camunda-form" | "spiff"
    ref: str | None  # the file or form key referenced, if any
    fields: tuple[FormField, ...]
    ui_ref: str | None = None
    problem: str | None = None  # why the reference could not be read

    @property
    def file_fields(self) -> tuple[FormField, ...]:
        return tuple(f for f in self.fields if f.is_file)


_EXTENSIONS = f"{{{BPMN_NS}}}extensionElements"
_FORM_KEY = f"{{{CAMUNDA_NS}}}formKey"
_FORM_DATA = f"{{{CAMUNDA_NS}}}formData"


def read_form(el: etree._Element, source: Source) -> Form | None:
    """The form of one task or start event, or None when it has none."""
    # next(iterchildren(tag)) is find(tag), for less: this runs for every task of a model.
    ext = next(el.iterchildren(_EXTENSIONS), None)
    form_key = el.get(_FORM_KEY)
    if ext is not None:
        data = next(ext.iterchildren(_FORM_DATA), None)
        if data is not None:
            return Form("camunda", form_key, tuple(_camunda_fields(data)))
        props = {p.get("name"): p.get("value") for p in ext.iter(f"{{{SPIFF_NS}}}property")}
        schema_ref = props.get("formJsonSchemaFilename")
        if schema_ref:
            return _spiff_form(schema_ref, props.get("formUiSchemaFilename"), source)
        zeebe = ext.find(f"{{{ZEEBE_NS}}}formDefinition")
        if zeebe is not None:
            key = zeebe.get("formKey") or zeebe.get("formId") or zeebe.get("externalReference")
            return _zeebe_form(key, el, source)
    if form_key:
        return _camunda_form_file(form_key, source)
    return None


def _camunda_fields(data: etree._Element) -> list[FormField]:
    fields = []
    for f in data.iterchildren(f"{{{CAMUNDA_NS}}}formField"):
        ftype = f.get("type")
        required = any(c.get("name") == "required" for c in f.iter(f"{{{CAMUNDA_NS}}}constraint"))
        fields.append(
            FormField(
                id=f.get("id", ""),
                label=f.get("label"),
                type=ftype,
                is_file=(ftype or "").lower() in {"file", "bytes", "upload"},
                required=required,
                line=f.sourceline,
            )
        )
    return fields


def _load_json(ref: str, source: Source) -> tuple[Any, str | None]:
    blob = source.side_file(ref)
    if blob is None:
        return None, f"form file {ref!r} not found next to the model"
    try:
        return json.loads(blob.decode("utf-8-sig")), None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return None, f"form file {ref!r} is not valid JSON: {exc}"


def _spiff_form(schema_ref: str, ui_ref: str | None, source: Source) -> Form:
    schema, problem = _load_json(schema_ref, source)
    ui: Any = None
    if ui_ref:
        ui, _ = _load_json(ui_ref, source)
    if problem or not isinstance(schema, dict):
        return Form("spiff", schema_ref, (), ui_ref, problem or f"form file {schema_ref!r} is not a JSON object")
    fields: list[FormField] = []
    _schema_fields(schema, ui if isinstance(ui, dict) else {}, "", fields)
    return Form("spiff", schema_ref, tuple(fields), ui_ref)


def _schema_fields(schema: dict, ui: dict, prefix: str, out: list[FormField]) -> None:
    props = schema.get("properties")
    if not isinstance(props, dict):
        return
    required = schema.get("required") if isinstance(schema.get("required"), list) else []
    for key, spec in props.items():
        if len(out) >= _MAX_FIELDS or not isinstance(spec, dict):
            continue
        fid = f"{prefix}{key}"
        sub_ui = ui.get(key) if isinstance(ui.get(key), dict) else {}
        ftype = spec.get("type")
        if isinstance(ftype, list):
            ftype = next((t for t in ftype if t != "null"), None)
        items = spec.get("items") if isinstance(spec.get("items"), dict) else {}
        if ftype == "object":
            _schema_fields(spec, sub_ui, f"{fid}.", out)
            continue
        if ftype == "array" and items.get("type") == "object":
            _schema_fields(
                items, sub_ui.get("items", {}) if isinstance(sub_ui.get("items"), dict) else {}, f"{fid}[].", out
            )
            continue
        is_file = (
            spec.get("format") in FILE_FORMATS
            or items.get("format") in FILE_FORMATS
            or sub_ui.get("ui:widget") in FILE_WIDGETS
            or "contentMediaType" in spec
            or ftype == "file"
        )
        title = spec.get("title")
        desc = spec.get("description")
        out.append(
            FormField(
                id=fid,
                label=title if isinstance(title, str) else None,
                type=str(spec.get("format") or ftype) if (spec.get("format") or ftype) else None,
                is_file=bool(is_file),
                required=key in required,
                description=desc if isinstance(desc, str) else None,
            )
        )


def _camunda_form_file(form_key: str, source: Source) -> Form:
    ref = form_key
    for prefix in (
        "camunda-forms:deployment:",
        "camunda-forms:app:",
        "embedded:deployment:",
        "embedded:app:",
        "deployment:",
        "app:",
    ):
        if ref.startswith(prefix):
            ref = ref[len(prefix) :]
            break
    if not ref.endswith(".form"):
        # HTML and external forms are opaque to us; record the key, no fields.
        return Form("camunda-form", form_key, ())
    doc, problem = _load_json(ref, source)
    if problem:
        return Form("camunda-form", form_key, (), problem=problem)
    return Form("camunda-form", form_key, tuple(_form_js_fields(doc)))


def _zeebe_form(key: str | None, el: etree._Element, source: Source) -> Form:
    # Camunda 8 embeds the form JSON in the process: zeebe:userTaskForm id=...
    if key and key.startswith("camunda-forms:bpmn:"):
        form_id = key.rsplit(":", 1)[1]
        proc = el
        while proc is not None and etree.QName(proc).localname != "process":
            proc = proc.getparent()
        if proc is not None:
            for utf in proc.iter(f"{{{ZEEBE_NS}}}userTaskForm"):
                if utf.get("id") == form_id:
                    try:
                        doc = json.loads(utf.text or "")
                    except json.JSONDecodeError as exc:
                        return Form(
                            "camunda-form", key, (), problem=f"embedded form {form_id!r} is not valid JSON: {exc}"
                        )
                    return Form("camunda-form", key, tuple(_form_js_fields(doc)))
        return Form("camunda-form", key, (), problem=f"embedded form {form_id!r} not found")
    if key:
        return _camunda_form_file(key if key.endswith(".form") else f"{key}.form", source)
    return Form("camunda-form", None, ())


def _form_js_fields(doc: Any) -> list[FormField]:
    out: list[FormField] = []

    def walk(node: Any) -> None:
        if len(out) >= _MAX_FIELDS or not isinstance(node, dict):
            return
        comps = node.get("components")
        if isinstance(comps, list):
            for c in comps:
                walk(c)
        ctype = node.get("type")
        key = node.get("key") or node.get("id")
        if isinstance(ctype, str) and isinstance(key, str) and ctype not in {"default", "group", "text", "spacer"}:
            validate = node.get("validate") if isinstance(node.get("validate"), dict) else {}
            label = node.get("label")
            out.append(
                FormField(
                    id=key,
                    label=label if isinstance(label, str) else None,
                    type=ctype,
                    is_file=ctype in {"filepicker", "file", "upload"},
                    required=bool(validate.get("required")),
                )
            )

    walk(doc)
    return out
