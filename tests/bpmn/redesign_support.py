"""Shared helpers of the redesign tests: models to run, cached outcomes, hand-made findings, C14N."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from lxml import etree

from bpmn.catalog import default_catalog
from bpmn.detect import DocumentHit, Finding, detect
from bpmn.load import BPMN_NS, Source, load_path
from bpmn.model import Model, read_model
from bpmn.redesign import Choices, Redesign, redesign
from bpmn.rewrite import PANJEREH_NS
from tests.conftest import REPO, SHARED

OWN_MODELS = REPO / "tests" / "data" / "redesign" / "models"
SAMPLES = sorted((SHARED / "samples" / "models").glob("*.bpmn"))
OWN = sorted(OWN_MODELS.glob("*.bpmn"))
ALL_MODELS = SAMPLES + OWN
ROLE = f"{{{PANJEREH_NS}}}role"


@dataclass(frozen=True)
class Outcome:
    """A model, its findings, its redesign and the redesigned model, read back."""

    source: Source
    model: Model
    findings: tuple[Finding, ...]
    result: Redesign
    new_source: Source
    new_model: Model


def run(path: Path, choices: Choices | None = None, findings: tuple[Finding, ...] | None = None) -> Outcome:
    """Redesign one model file (with detected findings unless some are given)."""
    source = load_path(path)[0]
    model = read_model(source)
    found = tuple(detect(model)) if findings is None else findings
    result = redesign(model, found, choices)
    new_source = result.as_source(source)
    return Outcome(source, model, found, result, new_source, read_model(new_source))


@lru_cache(maxsize=64)
def outcome(path: Path) -> Outcome:
    """The cached default redesign of a model file."""
    return run(path)


def hand_findings(model: Model, spec: Mapping[str, Mapping[str, bool]]) -> tuple[Finding, ...]:
    """Paper findings written by hand: element id -> {document id: replaceable}.

    Inquiry services come from the catalog, so the tests do not depend on the
    detector's judgement (the golden files stay stable while it evolves).
    """
    catalog = default_catalog()
    out = []
    for element_id, docs in spec.items():
        node = model.node(element_id)
        assert node is not None, element_id
        hits = tuple(DocumentHit(d, ok, catalog.documents[d].inquiries if ok else (), catalog.documents[d].issuer_en,
                                 None, "test") for d, ok in docs.items())
        out.append(Finding("paper_document", element_id, node.process_id, node.tag, node.name, node.line, 0.9,
                           any(docs.values()), hits))
    return tuple(out)


def c14n(el: etree._Element) -> bytes:
    """Exclusive canonical form: namespace declarations added to the root do not count."""
    return etree.tostring(el, method="c14n", exclusive=True, with_comments=True)


def bpmn_ids(root: etree._Element) -> dict[str, etree._Element]:
    """BPMN elements (outside extensions) by id."""
    out = {}
    for el in root.iter():
        if isinstance(el.tag, str) and el.get("id") and el.tag.startswith(f"{{{BPMN_NS}}}") and not any(
                etree.QName(a).localname == "extensionElements" for a in el.iterancestors()):
            out[el.get("id")] = el
    return out


def role(el: etree._Element | None) -> str | None:
    """The panjereh:role of an element (None for model elements)."""
    return el.get(ROLE) if el is not None else None
