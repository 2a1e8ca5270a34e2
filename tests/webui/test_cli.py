"""`panjereh analyze`: formats, exit codes, and no tracebacks on bad input."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from webui.cli import main

REPO = Path(__file__).resolve().parents[2]


def run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    old, sys.stdout = sys.stdout, out
    try:
        code = main(list(argv))
    finally:
        sys.stdout = old
    return code, out.getvalue()


@pytest.fixture(scope="module")
def schema(shared: Path) -> dict:
    return json.loads((shared / "contracts" / "analysis.schema.json").read_text())


def test_json_report_of_a_sample_validates(samples, schema):
    code, out = run("analyze", "--format", "json", str(samples[0]))
    assert code == 0
    report = json.loads(out)
    jsonschema.validate(report, schema)
    assert report["file"] == str(samples[0])
    assert report["summary"]["paper_steps"] >= 1
    assert "error" not in report


def test_every_sample_json_validates_and_jsonl_has_one_line_each(samples, schema, shared):
    code, out = run("analyze", "--format", "jsonl", "--jobs", "1", str(shared / "samples" / "models"))
    assert code == 0
    lines = out.strip().splitlines()
    assert len(lines) == len(samples)
    files = []
    for line in lines:
        rep = json.loads(line)
        jsonschema.validate(rep, schema)
        files.append(rep["file"])
    assert files == sorted(files)


def test_hostile_input_gives_error_report_and_exit_1(tmp_path: Path, schema):
    bad = tmp_path / "xxe.bpmn"
    bad.write_text('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>')
    code, out = run("analyze", "--format", "json", str(bad))
    assert code == 1
    report = json.loads(out)
    jsonschema.validate(report, schema)
    assert report["error"]["code"] == "xml.doctype"
    assert report["error"]["line"] == 1


def test_missing_path_and_mixed_inputs(tmp_path: Path, samples, schema):
    code, out = run("analyze", "--format", "json", str(tmp_path / "nope.bpmn"), str(samples[0]))
    assert code == 1
    reports = json.loads(out)
    assert [("error" in r) for r in reports] == [True, False]
    for r in reports:
        jsonschema.validate(r, schema)


def test_usage_error_exits_2():
    assert run("analyze")[0] == 2
    assert run("analyze", "--format", "yaml", "x.bpmn")[0] == 2
    assert run("frobnicate")[0] == 2


def test_text_output_is_readable_persian(samples):
    code, out = run("analyze", str(samples[0]))
    assert code == 0
    assert str(samples[0]) in out
    assert "paper steps:" in out
    assert "\x1b[" not in out  # no colour codes when not a terminal
    assert any("\u0600" <= ch <= "\u06ff" for ch in out)


def test_console_script_never_prints_a_traceback(tmp_path: Path):
    for name, blob in {"bin.bpmn": b"\x00\xff\x00garbage", "html.bpmn": b"<html/>", "empty.bpmn": b""}.items():
        (tmp_path / name).write_bytes(blob)
    exe = Path(sys.executable).with_name("panjereh")
    res = subprocess.run([str(exe), "analyze", str(tmp_path)], capture_output=True, text=True, check=False)
    assert res.returncode == 1
    assert "Traceback" not in res.stdout + res.stderr
    assert res.stdout.count("refused") == 3
