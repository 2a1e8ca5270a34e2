"""`panjereh redesign`: files written, change log formats, exit codes, no tracebacks."""

from __future__ import annotations

import argparse
import io
import json
import shutil
import sys
from pathlib import Path

import jsonschema
import pytest

from bpmn.load import load_path
from bpmn.model import read_model
from tests.conftest import REPO, SHARED
from webui.cmd_redesign import register

SAMPLES = SHARED / "samples" / "models"
OWN = REPO / "tests" / "data" / "redesign" / "models"


def cli(*argv: str) -> tuple[int, str, str]:
    """Run the subcommand through a parser of our own, as webui.cli does."""
    parser = argparse.ArgumentParser(prog="panjereh")
    register(parser.add_subparsers(dest="command", required=True))
    out, err = io.StringIO(), io.StringIO()
    old_err, sys.stderr = sys.stderr, err
    try:
        try:
            args = parser.parse_args(list(argv))
        except SystemExit as exc:
            return int(exc.code or 0), out.getvalue(), err.getvalue()
        code = args.func(args, out)
    finally:
        sys.stderr = old_err
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def schema() -> dict:
    return json.loads((SHARED / "contracts" / "redesign.schema.json").read_text())


def test_json_change_log_validates_and_model_is_written(tmp_path: Path, schema: dict):
    out = tmp_path / "passport.once.bpmn"
    src = SAMPLES / "passport_issuance.bpmn"
    code, stdout, stderr = cli("redesign", str(src), "-o", str(out), "--format", "json")
    assert code == 0, stderr
    log = json.loads(stdout)
    jsonschema.validate(log, schema)
    assert log["source"] == str(src) and log["output"] == str(out)
    assert log["summary"]["steps_replaced"] == 3
    model = read_model(load_path(out)[0])
    assert {"t_ids", "t_mil", "t_consent"}.isdisjoint(n.id for p in model.processes for n in p.nodes.values())
    assert out.read_bytes().startswith(b'<?xml version="1.0" encoding="UTF-8"?>')


def test_text_output_puts_ids_first_and_model_text_last(tmp_path: Path):
    code, stdout, _ = cli("redesign", str(SAMPLES / "business_license.bpmn"), "-o", str(tmp_path / "b.bpmn"))
    assert code == 0
    lines = stdout.splitlines()
    assert lines[0].endswith(str(tmp_path / "b.bpmn"))
    assert "steps replaced: 5" in lines[1]
    change_lines = [ln for ln in lines if ln.startswith("  replace_with_inquiry ")]
    assert change_lines and all(ln.split()[1].isascii() for ln in change_lines)
    assert any(ln.startswith("  kept t_photo: still asks for paper «") for ln in lines)


def test_changed_and_still_used_form_files_are_written_next_to_the_output(tmp_path: Path):
    out = tmp_path / "sub" / "bl.bpmn"
    code, _, stderr = cli("redesign", str(SAMPLES / "business_license.bpmn"), "-o", str(out))
    assert code == 0, stderr
    written = {p.name for p in out.parent.iterdir()}
    assert "business_license.t_edu.once-schema.json" in written           # changed, new name
    assert "business_license.t_review-schema.json" in written             # unchanged, copied
    assert "business_license.t_edu-schema.json" not in written            # replaced by its copy
    model = read_model(load_path(out)[0])
    forms = [n.form for p in model.processes for n in p.nodes.values() if n.form is not None]
    assert forms and all(f.problem is None for f in forms)


def test_only_applies_just_the_listed_findings(tmp_path: Path, schema: dict):
    code, stdout, _ = cli("redesign", str(SAMPLES / "passport_issuance.bpmn"), "-o", str(tmp_path / "p.bpmn"),
                          "--only", "t_mil", "--format", "json")
    assert code == 0
    log = json.loads(stdout)
    jsonschema.validate(log, schema)
    assert {c["element_id"] for c in log["changes"]} == {"t_mil"}


def test_only_naming_a_step_without_a_replaceable_finding_is_a_usage_error(tmp_path: Path):
    out = tmp_path / "p.bpmn"
    code, stdout, stderr = cli("redesign", str(SAMPLES / "passport_issuance.bpmn"), "-o", str(out),
                               "--only", "t_mil,t_bio")
    assert code == 2 and stdout == ""
    assert "t_bio" in stderr and "t_mil" not in stderr.split("(")[0] and "Traceback" not in stderr
    assert not out.exists()
    assert cli("redesign", str(SAMPLES / "passport_issuance.bpmn"), "-o", str(out), "--only", " , ")[0] == 2


def test_missing_output_option_is_a_usage_error():
    code, _, stderr = cli("redesign", str(SAMPLES / "passport_issuance.bpmn"))
    assert code == 2 and "-o" in stderr


def test_hostile_or_missing_input_is_refused_without_traceback(tmp_path: Path):
    bad = tmp_path / "xxe.bpmn"
    bad.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    code, stdout, stderr = cli("redesign", str(bad), "-o", str(tmp_path / "out.bpmn"))
    assert code == 1 and stdout == ""
    assert "document type declarations" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "out.bpmn").exists()
    code, _, stderr = cli("redesign", str(tmp_path / "nope.bpmn"), "-o", str(tmp_path / "out.bpmn"))
    assert code == 1 and "cannot read" in stderr
    not_bpmn = tmp_path / "x.bpmn"
    not_bpmn.write_text("<html/>")
    assert cli("redesign", str(not_bpmn), "-o", str(tmp_path / "out.bpmn"))[0] == 1


def test_unwritable_output_is_reported(tmp_path: Path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, stderr = cli("redesign", str(SAMPLES / "passport_issuance.bpmn"), "-o", str(blocker / "out.bpmn"))
    assert code == 1 and "cannot write" in stderr


def test_nothing_to_change_copies_the_model_unchanged(tmp_path: Path):
    src = tmp_path / "plain.bpmn"
    shutil.copy(SAMPLES / "passport_issuance.bpmn", src)
    once = tmp_path / "once.bpmn"
    assert cli("redesign", str(src), "-o", str(once))[0] == 0
    again = tmp_path / "again.bpmn"
    code, stdout, _ = cli("redesign", str(once), "-o", str(again))
    assert code == 0 and "nothing to change" in stdout
    assert again.read_bytes() == once.read_bytes()


def test_make_room_option_reaches_the_layout(tmp_path: Path):
    code, stdout, _ = cli("redesign", str(OWN / "data_objects.bpmn"), "-o", str(tmp_path / "d.bpmn"),
                          "--make-room", "--format", "json")
    assert code == 0
    assert "make_room" in {c["action"] for c in json.loads(stdout)["changes"]}
