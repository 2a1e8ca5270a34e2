"""Golden files: the redesign of six small models, one per paper-step style, compared after C14N.

Findings are written by hand here (not detected), so these files change only
when the redesign does. To accept a deliberate change, regenerate them with
``PANJEREH_UPDATE_GOLDEN=1 pytest tests/bpmn/test_redesign_golden.py`` and
review the diff like code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from lxml import etree

from bpmn.load import load_bytes, load_path
from bpmn.model import read_model
from tests.bpmn.redesign_support import OWN_MODELS, REPO, hand_findings, run

GOLDEN = REPO / "tests" / "data" / "redesign" / "golden"
UPDATE = os.environ.get("PANJEREH_UPDATE_GOLDEN") == "1"

CASES = {
    "single_document": {"t_card": {"national_card": True}},
    "several_documents": {"t_docs": {"shenasnameh": True, "military_service_status": True}},
    "partly_replaceable": {"t_up": {"national_card": True, "medical_certificate": False}},
    "applicant_manual_task": {"t_crim": {"criminal_record_certificate": True}},
    "data_objects": {"t_file": {"shenasnameh": True, "utility_bill": True}},
    "documentation_only": {"t_visit": {"national_card": True, "medical_certificate": False}},
}


def _c14n(data: bytes) -> bytes:
    root = load_bytes(data, "golden.bpmn").root
    return etree.tostring(root.getroottree(), method="c14n", with_comments=True)


@pytest.mark.parametrize("case", sorted(CASES))
def test_redesign_matches_golden(case: str):
    path = OWN_MODELS / f"{case}.bpmn"
    model = read_model(load_path(path)[0])
    o = run(path, findings=hand_findings(model, CASES[case]))
    log = o.result.change_log_json(f"{case}.bpmn", f"{case}.once.bpmn")
    expected_model = GOLDEN / f"{case}.once.bpmn"
    expected_log = GOLDEN / f"{case}.changes.json"
    forms = GOLDEN / case
    if UPDATE:
        GOLDEN.mkdir(parents=True, exist_ok=True)
        expected_model.write_bytes(o.result.data)
        expected_log.write_text(json.dumps(log, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        if o.result.files:
            forms.mkdir(exist_ok=True)
            for name, blob in o.result.files.items():
                (forms / name).write_bytes(blob)
    assert expected_model.exists(), "no golden file yet: run with PANJEREH_UPDATE_GOLDEN=1 and review it"
    assert _c14n(o.result.data) == _c14n(expected_model.read_bytes())
    assert log == json.loads(expected_log.read_text(encoding="utf-8"))
    written = {p.name: p.read_bytes() for p in forms.iterdir()} if forms.is_dir() else {}
    assert {n: json.loads(b) for n, b in o.result.files.items()} == {n: json.loads(b) for n, b in written.items()}


def test_golden_cases_cover_every_paper_step_style():
    actions = {}
    for case in CASES:
        log = json.loads((GOLDEN / f"{case}.changes.json").read_text(encoding="utf-8"))
        actions[case] = {c["action"] for c in log["changes"]}
    assert "replace_with_inquiry" in actions["single_document"]
    assert "parallelise" in actions["several_documents"]
    assert {"keep_documents", "remove_upload_fields"} <= actions["partly_replaceable"]
    assert "add_consent" in actions["applicant_manual_task"]
    assert {"add_inquiry_before", "remove_data_objects"} <= actions["data_objects"]
    assert {"rewrite_documentation", "keep_documents"} <= actions["documentation_only"]
    assert Path(GOLDEN / "partly_replaceable").is_dir()
