"""Hostile and broken inputs are refused cleanly by the one hardened parser."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from bpmn.errors import LoadError
from bpmn.load import Limits, load_bytes, load_path, parse_xml
from bpmn.model import read_model

DEFS = (
    '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
    'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">'
    '<bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="s"/>{body}</bpmn:process>'
    "</bpmn:definitions>"
)


def model(body: str = "") -> bytes:
    return ('<?xml version="1.0" encoding="UTF-8"?>\n' + DEFS.format(body=body)).encode()


def refused(data: bytes, code: str, **kw) -> LoadError:
    with pytest.raises(LoadError) as info:
        load_bytes(data, "upload.bpmn", **kw)
    assert info.value.code == code, info.value
    assert info.value.file == "upload.bpmn"
    return info.value


def test_plain_model_loads():
    src = load_bytes(model('<bpmn:task id="t" name="x"/>'), "m.bpmn")
    assert read_model(src).processes[0].nodes["t"].name == "x"


def test_xxe_file_is_refused_and_nothing_is_read(tmp_path: Path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET-42")
    data = (
        f'<?xml version="1.0"?>\n<!DOCTYPE d [<!ENTITY x SYSTEM "file://{secret}">]>\n'
        + DEFS.format(body='<bpmn:task id="t" name="&x;"/>')
    ).encode()
    err = refused(data, "xml.doctype")
    assert err.line == 2
    assert "TOP-SECRET" not in str(err)
    assert "DOCTYPE" in err.message


def test_xxe_network_and_parameter_entities_are_refused():
    data = (
        '<?xml version="1.0"?><!DOCTYPE d [<!ENTITY % p SYSTEM "http://127.0.0.1:9/evil.dtd"> %p;]>'
        + DEFS.format(body="")
    ).encode()
    refused(data, "xml.doctype")


def test_xxe_hidden_in_utf16_is_refused():
    text = '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    text += DEFS.format(body='<bpmn:task id="t" name="&x;"/>')
    refused(text.encode("utf-16"), "xml.doctype")


def test_billion_laughs_is_refused():
    ents = '<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10))
    data = (
        f"<?xml version='1.0'?><!DOCTYPE d [{ents}]>" + DEFS.format(body='<bpmn:task id="t" name="&a9;"/>')
    ).encode()
    refused(data, "xml.doctype")


def test_quadratic_blowup_is_refused():
    big = "A" * 50_000
    data = (
        f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY big "{big}">]>'
        + DEFS.format(body='<bpmn:task id="t" name="' + "&big;" * 5000 + '"/>')
    ).encode()
    refused(data, "xml.doctype")


def test_xinclude_is_never_processed():
    body = (
        '<bpmn:task id="t"><bpmn:documentation><xi:include xmlns:xi="http://www.w3.org/2001/XInclude" '
        'href="/etc/passwd" parse="text"/></bpmn:documentation></bpmn:task>'
    )
    node = read_model(load_bytes(model(body), "m.bpmn")).processes[0].nodes["t"]
    assert "root:" not in node.documentation


def test_oversized_file_is_refused():
    data = model("<!--" + "x" * 2_000_000 + "-->")
    err = refused(data, "size.file", limits=Limits(max_file_bytes=1_000_000))
    assert "1,000,000" in err.message


def test_oversized_default_limit(tmp_path: Path):
    path = tmp_path / "huge.bpmn"
    path.write_bytes(model("<!--" + "x" * (17 * 1024 * 1024) + "-->"))
    with pytest.raises(LoadError) as info:
        load_path(path)
    assert info.value.code == "size.file"


def test_deep_nesting_is_refused():
    body = "<bpmn:documentation>" + "<a>" * 300 + "</a>" * 300 + "</bpmn:documentation>"
    err = refused(model(body), "xml.depth")
    assert "deep" in err.message


def test_too_many_elements_is_refused():
    body = "".join(f'<bpmn:task id="t{i}"/>' for i in range(200))
    refused(model(body), "size.elements", limits=Limits(max_elements=100))


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "xml.empty"),
        (b"   \n", "xml.empty"),
        (b'{"not": "xml"}', "xml.syntax"),
        (b"\x00\x01\x02binary\xff", "xml.syntax"),
        (b"<html><body>hello</body></html>", "bpmn.not_bpmn"),
        (b'<definitions xmlns="http://www.omg.org/spec/DMN/20151101/dmn.xsd"/>', "bpmn.not_bpmn"),
        (b"<a><b></a>", "xml.syntax"),
    ],
)
def test_non_bpmn_is_refused(data: bytes, code: str):
    refused(data, code)


def test_syntax_error_names_the_line():
    err = refused(b'<?xml version="1.0"?>\n<a>\n<b>\n</a>', "xml.syntax")
    assert err.line == 4


def _zip(entries: dict[str, bytes], links: tuple[str, ...] = ()) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, blob in entries.items():
            zf.writestr(name, blob)
        for name in links:
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, "/etc/passwd")
    return buf.getvalue()


SPIFF_TASK = (
    '<bpmn:userTask id="t" name="upload"><bpmn:extensionElements><spiffworkflow:properties>'
    '<spiffworkflow:property name="formJsonSchemaFilename" value="{ref}"/>'
    "</spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>"
)
SCHEMA = b'{"type":"object","properties":{"scan":{"type":"string","title":"scan","format":"data-url"}}}'


def test_zip_bundle_reads_forms_inside_the_bundle():
    data = _zip({"m/model.bpmn": model(SPIFF_TASK.format(ref="f.json")), "m/f.json": SCHEMA})
    src = load_bytes(data, "b.zip")
    assert src.name == "b.zip!m/model.bpmn"
    form = read_model(src).processes[0].nodes["t"].form
    assert form is not None and form.problem is None
    assert [f.id for f in form.file_fields] == ["scan"]


def test_zip_form_ref_cannot_escape_the_bundle():
    data = _zip({"model.bpmn": model(SPIFF_TASK.format(ref="../f.json")), "f.json": SCHEMA})
    form = read_model(load_bytes(data, "b.zip")).processes[0].nodes["t"].form
    assert form.fields == () and "not found" in form.problem


@pytest.mark.parametrize(
    ("entries", "links", "code"),
    [
        ({"../evil.bpmn": b"x"}, (), "zip.path"),
        ({"/abs/evil.bpmn": b"x"}, (), "zip.path"),
        ({"model.bpmn": model()}, ("link.json",), "zip.link"),
        ({"readme.txt": b"hello"}, (), "zip.no_model"),
        ({f"f{i}.txt": b"" for i in range(600)}, (), "zip.entries"),
        ({"model.bpmn": model(), "bomb.bin": b"\0" * (80 * 1024 * 1024)}, (), "zip.size"),
    ],
)
def test_hostile_zip_is_refused(entries, links, code):
    refused(_zip(entries, links), code)


def test_zip_bomb_ratio_is_refused():
    refused(_zip({"model.bpmn": model(), "bomb.bin": b"\0" * (20 * 1024 * 1024)}), "zip.ratio")


def test_broken_zip_is_refused():
    refused(b"PK\x03\x04" + b"garbage" * 10, "zip.bad")


def test_side_files_only_next_to_the_model(tmp_path: Path):
    (tmp_path / "m").mkdir()
    (tmp_path / "secret.json").write_bytes(SCHEMA)
    (tmp_path / "m" / "ok.json").write_bytes(SCHEMA)
    (tmp_path / "m" / "link.json").symlink_to(tmp_path / "secret.json")
    body = SPIFF_TASK.format(ref="ok.json") + SPIFF_TASK.format(ref="../secret.json").replace('id="t"', 'id="u"')
    body += SPIFF_TASK.format(ref="link.json").replace('id="t"', 'id="v"')
    path = tmp_path / "m" / "model.bpmn"
    path.write_bytes(model(body))
    nodes = read_model(load_path(path)[0]).processes[0].nodes
    assert len(nodes["t"].form.file_fields) == 1
    assert nodes["u"].form.problem and nodes["u"].form.fields == ()
    assert nodes["v"].form.problem and nodes["v"].form.fields == ()


def test_parse_xml_keeps_comments_and_lines():
    root = parse_xml(b"<a>\n<!-- keep me -->\n<b/></a>", "x.xml")
    assert "keep me" in root[0].text
    assert root[1].sourceline == 3
