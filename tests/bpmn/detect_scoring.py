"""Scoring the paper-document detector against labelled models (labels.json next to each .bpmn).

Used by ``test_detect_samples.py`` (the shared samples) and ``test_detect_labelled.py``
(our own models in ``tests/data/labelled``). Precision and recall are counted at task
level (is the step a paper step?) and at (task, document) level; replaceability is the
share of correctly found paper steps whose ``replaceable`` flag matches the label.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from bpmn.detect import Finding, detect
from bpmn.load import load_path
from bpmn.model import read_model


@dataclass
class Scores:
    """Counts over one or more labelled models, and what went wrong (for failure messages)."""

    tp: int = 0
    fp: int = 0
    fn: int = 0
    doc_tp: int = 0
    doc_fp: int = 0
    doc_fn: int = 0
    replaceable_ok: int = 0
    replaceable_n: int = 0
    errors: list[str] = field(default_factory=list)

    @staticmethod
    def _ratio(good: int, bad: int) -> float:
        return good / (good + bad) if good + bad else 1.0

    @property
    def precision(self) -> float:
        return self._ratio(self.tp, self.fp)

    @property
    def recall(self) -> float:
        return self._ratio(self.tp, self.fn)

    @property
    def doc_precision(self) -> float:
        return self._ratio(self.doc_tp, self.doc_fp)

    @property
    def doc_recall(self) -> float:
        return self._ratio(self.doc_tp, self.doc_fn)

    @property
    def replaceable_accuracy(self) -> float:
        return self.replaceable_ok / self.replaceable_n if self.replaceable_n else 1.0

    def summary(self, label: str) -> str:
        return (f"{label}: task P={self.precision:.3f} R={self.recall:.3f} (tp={self.tp} fp={self.fp} fn={self.fn}); "
                f"(task,doc) P={self.doc_precision:.3f} R={self.doc_recall:.3f} "
                f"(tp={self.doc_tp} fp={self.doc_fp} fn={self.doc_fn}); "
                f"replaceable {self.replaceable_ok}/{self.replaceable_n}")


@dataclass(frozen=True)
class LabelledModel:
    """One model, its labels and the detector's findings on it."""

    stem: str
    labels: dict
    findings: tuple[Finding, ...]
    names: dict[str, str | None]
    activities: tuple[str, ...]

    def paper(self) -> dict[str, Finding]:
        return {f.element_id: f for f in self.findings if f.kind == "paper_document"}

    def kinds_of(self, element_id: str) -> set[str]:
        return {f.kind for f in self.findings if f.element_id == element_id}


def load_labelled(folder: Path) -> list[LabelledModel]:
    """Every ``*.labels.json`` in a folder with its model, run through :func:`detect`."""
    out = []
    for label_file in sorted(folder.glob("*.labels.json")):
        labels = json.loads(label_file.read_text(encoding="utf-8"))
        model_file = label_file.with_name(label_file.name.replace(".labels.json", ".bpmn"))
        model = read_model(load_path(model_file)[0])
        names = {n.id: n.name for p in model.processes for n in p.nodes.values()}
        activities = tuple(n.id for p in model.processes for n in p.activities)
        out.append(LabelledModel(model_file.stem, labels, tuple(detect(model)), names, activities))
    return out


def score(models: list[LabelledModel]) -> Scores:
    """Task-level and (task, document)-level counts over the models."""
    s = Scores()
    for lm in models:
        paper = lm.paper()
        for task_id, truth in lm.labels["tasks"].items():
            found = paper.get(task_id)
            where = f"{lm.stem}.{task_id} {lm.names.get(task_id)!r}"
            if truth["paper"] and found:
                s.tp += 1
            elif truth["paper"]:
                s.fn += 1
                s.errors.append(f"missed {where}")
            elif found:
                s.fp += 1
                s.errors.append(f"false alarm {where} {found.signals}")
            gold = set(truth["docs"]) if truth["paper"] else set()
            got = {d.id for d in found.documents} if found else set()
            s.doc_tp += len(gold & got)
            s.doc_fp += len(got - gold)
            s.doc_fn += len(gold - got)
            if found and gold != got:
                s.errors.append(f"documents of {where}: missing {sorted(gold - got)}, extra {sorted(got - gold)}")
            if truth["paper"] and found:
                s.replaceable_n += 1
                if found.replaceable == truth["replaceable"]:
                    s.replaceable_ok += 1
                else:
                    s.errors.append(f"replaceable of {where}: got {found.replaceable}, label {truth['replaceable']}")
    return s


# The floors both labelled sets must reach: meaningful, but not tuned to today's exact figures.
FLOORS = {"precision": 0.9, "recall": 0.9, "doc_precision": 0.85, "doc_recall": 0.85, "replaceable_accuracy": 0.85}


def check_floors(s: Scores, label: str) -> list[str]:
    """Print the figures of one labelled set and list the floors it misses (with the errors)."""
    print("\n" + s.summary(label))
    missed = [f"{name} {getattr(s, name):.3f} < {floor}" for name, floor in FLOORS.items() if getattr(s, name) < floor]
    return [*missed, *s.errors] if missed else []


def assert_no_paper_step(lm: LabelledModel, model: str, task: str) -> None:
    """A hard negative: labelled as no paper step, and not reported as one."""
    assert lm.labels["tasks"][task]["paper"] is False, "the test's list disagrees with the labels"
    assert task not in lm.paper(), f"{model}.{task} {lm.names[task]!r} reported as a paper step"
