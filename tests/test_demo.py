"""The quick start's demo (``make run``): the redesigned demo model runs to its end with the demo's answers.

``make run`` analyses ``demo/``, redesigns the housing-loan model and runs it
with ``demo/housing_loan_fa.answers.json`` on an embedded SQLite database, the
inquiries answered by the registry simulator. The answers name the redesigned
model's tasks and a person and a payment of the simulator's population: a
change to either would leave the demo stopping half-way, which this test sees.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from webui.cli import main

DEMO = Path(__file__).resolve().parents[1] / "demo"


def test_the_redesigned_demo_model_runs_to_its_end_with_every_inquiry_answered(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    redesigned = tmp_path / "housing_loan_fa.once.bpmn"
    assert main(["redesign", str(DEMO / "housing_loan_fa.bpmn"), "-o", str(redesigned)]) == 0
    capsys.readouterr()
    assert main(["run", str(redesigned), "--answers", f"@{DEMO / 'housing_loan_fa.answers.json'}",
                 "--clock", "virtual", "--format", "json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["status"] == "completed", document
    assert document["incidents"] == []
    answered = {inquiry["service"]: (inquiry["status"], inquiry["attempts"]) for inquiry in document["inquiries"]}
    assert answered == {service: ("OK", 1) for service in
                        ("nocr_identity", "nocr_vital_events", "mrud_amlak_eskan", "pakna", "payment_gateway")}
    # The paper steps are gone from the path the case took: their documents were fetched instead.
    assert "End_1" in document["completed"]
    assert not {"Act_ids", "Act_marriage", "Act_residence", "Act_income", "Act_receipt"} & set(document["completed"])
