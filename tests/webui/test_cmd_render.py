"""`panjereh render`: files written, overlays, exit codes, no tracebacks."""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import pytest
from lxml import etree

from webui.cmd_render import register

SVG = "{http://www.w3.org/2000/svg}"


def run(*argv: str) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="panjereh")
    register(parser.add_subparsers(dest="command", required=True))
    try:
        args = parser.parse_args(list(argv))
    except SystemExit as exc:
        return int(exc.code or 0), ""
    out = io.StringIO()
    return args.func(args, out), out.getvalue()


def sample(samples: list[Path], stem: str) -> Path:
    return next(p for p in samples if p.stem == stem)


def marked(svg_path: Path, cls: str) -> set[str]:
    root = etree.parse(str(svg_path)).getroot()
    return {g.get("data-element-id") for g in root.iter(f"{SVG}g")
            if g.get("data-element-id") and cls in g.get("class", "").split()}


def test_render_writes_an_svg(samples, tmp_path: Path):
    out_file = tmp_path / "bl.svg"
    code, out = run("render", str(sample(samples, "business_license")), "-o", str(out_file))
    assert code == 0
    assert out.startswith(str(out_file))
    root = etree.parse(str(out_file)).getroot()
    assert root.tag == f"{SVG}svg"
    assert root.find(f".//{SVG}g[@data-element-id='t_request']") is not None


def test_findings_overlay_marks_paper_steps(samples, tmp_path: Path):
    out_file = tmp_path / "vt.svg"
    code, out = run("render", str(sample(samples, "vehicle_transfer")), "-o", str(out_file),
                    "--overlay", "findings", "--lang", "fa")
    assert code == 0 and "elements marked" in out
    from bpmn.detect import detect
    from bpmn.load import load_path
    from bpmn.model import read_model

    findings = detect(read_model(load_path(sample(samples, "vehicle_transfer"))[0]))
    expected = {f.element_id for f in findings if f.kind == "paper_document"}
    assert expected
    assert marked(out_file, "paper") | marked(out_file, "paper-replaceable") == expected
    assert marked(out_file, "paper-replaceable") == {f.element_id for f in findings
                                                      if f.kind == "paper_document" and f.replaceable}


def test_redesign_overlay_reads_the_change_log(samples, tmp_path: Path):
    log = tmp_path / "changes.json"
    log.write_text(json.dumps({"schema": "panjereh.redesign/1", "source": "a", "output": "b", "summary": {},
                               "changes": [{"element_id": "t_upload_id", "action": "replace_with_inquiry",
                                            "added": ["t_request"], "removed": ["t_gone"]}]}))
    out_file = tmp_path / "r.svg"
    code, _ = run("render", str(sample(samples, "business_license")), "-o", str(out_file),
                  "--overlay", "redesign", "--changes", str(log))
    assert code == 0
    assert marked(out_file, "added") == {"t_request"}
    assert marked(out_file, "changed") == {"t_upload_id"}
    # --changes alone implies the redesign overlay
    code, _ = run("render", str(sample(samples, "business_license")), "-o", str(out_file), "--changes", str(log))
    assert code == 0 and marked(out_file, "added") == {"t_request"}


def test_stdout_output(samples):
    code, out = run("render", str(sample(samples, "passport_issuance")), "-o", "-")
    assert code == 0
    assert etree.fromstring(out.encode()).tag == f"{SVG}svg"


def test_usage_errors_exit_2(samples, tmp_path: Path, capsys):
    model = str(sample(samples, "business_license"))
    out_file = str(tmp_path / "x.svg")
    assert run("render", model)[0] == 2                                    # no -o
    assert run("render", model, "-o", out_file, "--overlay", "paper")[0] == 2
    assert run("render", model, "-o", out_file, "--overlay", "redesign")[0] == 2
    assert "needs --changes" in capsys.readouterr().err
    assert run("render", model, "-o", out_file, "--overlay", "findings", "--changes", out_file)[0] == 2
    assert run("render", model, "-o", out_file, "--diagram", "nope")[0] == 2
    assert "Diagram_business_license" in capsys.readouterr().err
    assert not Path(out_file).exists()


@pytest.mark.parametrize("content, code_word", [
    ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>', "document type"),
    ("<definitions/>", "not a BPMN 2.0 model"),
    ("not xml at all", "not well-formed"),
])
def test_refused_models_exit_1_with_a_message(tmp_path: Path, capsys, content: str, code_word: str):
    bad = tmp_path / "bad.bpmn"
    bad.write_text(content)
    code, _ = run("render", str(bad), "-o", str(tmp_path / "o.svg"))
    err = capsys.readouterr().err
    assert code == 1
    assert code_word in err and "Traceback" not in err
    assert not (tmp_path / "o.svg").exists()


def test_bad_change_logs_and_unwritable_output_exit_1(samples, tmp_path: Path, capsys):
    model = str(sample(samples, "business_license"))
    for name, content in (("not.json", "{oops"), ("list.json", "[1, 2]"), ("no_changes.json", '{"changes": 3}')):
        log = tmp_path / name
        log.write_text(content)
        assert run("render", model, "-o", str(tmp_path / "o.svg"), "--changes", str(log))[0] == 1
    assert run("render", model, "-o", str(tmp_path / "o.svg"), "--changes", str(tmp_path / "missing.json"))[0] == 1
    assert run("render", model, "-o", str(tmp_path / "no" / "such" / "dir.svg"))[0] == 1
    err = capsys.readouterr().err
    assert "change log" in err and "cannot write" in err and "Traceback" not in err
