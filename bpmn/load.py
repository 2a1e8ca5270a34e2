"""The one hardened entry point for every XML file and bundle Panjereh reads.

Uploaded models are hostile until checked (DESIGN.md §8). Everything that
turns bytes into an lxml tree goes through :func:`parse_xml`, which

* refuses any document type declaration before the parser sees it, so no
  external entity (XXE), entity bomb or quadratic blow-up is ever expanded
  and nothing is fetched from disk or network;
* parses with entity resolution, DTD loading and network access off, and
  libxml2's own depth and size guards on (no ``huge_tree``);
* limits the input size and the element depth, and keeps comments so a
  rewritten model loses nothing.

:func:`load_path` and :func:`load_bytes` turn a ``.bpmn`` file or a ``.zip``
bundle (model + form files) into :class:`Source` values. Form files referenced
by a model are read lazily, only from next to the model (or from inside the
same bundle), never from a path the model chooses outside that folder.
"""

from __future__ import annotations

import io
import os
import re
import stat
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from lxml import etree

from bpmn.errors import LoadError

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
# The extension namespaces of the tools whose models we read and write.
CAMUNDA_NS = "http://camunda.org/schema/1.0/bpmn"
ZEEBE_NS = "http://camunda.org/schema/zeebe/1.0"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
MODEL_SUFFIXES = (".bpmn", ".bpmn2", ".bpmn20.xml")


@dataclass(frozen=True)
class Limits:
    """Size limits for one input; the defaults suit real agency models."""

    max_file_bytes: int = 16 * 1024 * 1024
    max_depth: int = 200
    max_elements: int = 500_000
    max_side_file_bytes: int = 2 * 1024 * 1024
    max_zip_entries: int = 500
    max_zip_total_bytes: int = 64 * 1024 * 1024
    max_zip_ratio: int = 200


DEFAULT_LIMITS = Limits()

# A declaration is refused whatever it declares: BPMN never needs a DTD, and
# refusing before parsing means no libxml2 code path touches entity text.
_DOCTYPE = re.compile(rb"<!DOCTYPE|<!ENTITY", re.IGNORECASE)


def _parser() -> etree.XMLParser:
    # A new parser per call: lxml parsers are not thread-safe, and these are cheap.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=False,
        collect_ids=False,
    )


def _line_of(data: bytes, offset: int) -> int:
    return data.count(b"\n", 0, offset) + 1


def _as_utf8(data: bytes, name: str) -> bytes:
    """UTF-16/32 input is re-encoded so the DOCTYPE scan sees every document."""
    if data[:2] in (b"\xff\xfe", b"\xfe\xff") or data[:4] in (b"\x00\x00\xfe\xff", b"\xff\xfe\x00\x00"):
        for enc in ("utf-32", "utf-16"):
            try:
                text = data.decode(enc)
            except UnicodeDecodeError:
                continue
            text = re.sub(r"^\ufeff?<\?xml[^>]*\?>", '<?xml version="1.0" encoding="UTF-8"?>', text)
            return text.encode("utf-8")
        raise LoadError("xml.encoding", "the file's byte order mark names an encoding it is not in", file=name)
    return data


def parse_xml(data: bytes, name: str, limits: Limits = DEFAULT_LIMITS) -> etree._Element:
    """Parse untrusted XML bytes into an element tree, or raise :class:`LoadError`.

    ``name`` is used in messages only. The result keeps comments and source
    line numbers (``element.sourceline``).
    """
    if len(data) > limits.max_file_bytes:
        raise LoadError(
            "size.file",
            f"the file is {len(data):,} bytes; the limit is {limits.max_file_bytes:,}",
            file=name,
        )
    if not data.strip():
        raise LoadError("xml.empty", "the file is empty", file=name)
    data = _as_utf8(data, name)
    hit = _DOCTYPE.search(data)
    if hit:
        raise LoadError(
            "xml.doctype",
            "document type declarations (DTDs and entities) are not allowed in models; remove the <!DOCTYPE ...> block",
            file=name,
            line=_line_of(data, hit.start()),
        )
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        line = exc.lineno if getattr(exc, "lineno", None) else None
        msg = str(exc.msg if hasattr(exc, "msg") and exc.msg else exc)
        if "depth" in msg.lower():
            raise LoadError(
                "xml.depth", f"elements are nested too deep (the limit is {limits.max_depth})", file=name, line=line
            ) from None
        raise LoadError("xml.syntax", f"not well-formed XML: {msg}", file=name, line=line) from None
    except ValueError as exc:  # lxml raises this for some unsupported encodings
        raise LoadError("xml.syntax", f"cannot be parsed as XML: {exc}", file=name) from None
    doc = root.getroottree().docinfo
    if doc.doctype or doc.internalDTD is not None:
        raise LoadError("xml.doctype", "document type declarations are not allowed in models", file=name)
    _check_shape(root, name, limits)
    return root


_COUNT_ELEMENTS = etree.XPath("count(descendant-or-self::*)")
_DEEPER_THAN: dict[int, etree.XPath] = {}


def _within_limits(root: etree._Element, limits: Limits) -> bool:
    """Whether no limit of :func:`_check_shape` is exceeded, asked of libxml2's XPath (in C).

    The walk below visits every element from Python, which is most of the cost of
    loading a large model; a file within the limits needs no walk.
    """
    if limits.max_depth < 1:
        return False
    deeper = _DEEPER_THAN.get(limits.max_depth)
    if deeper is None:
        # An element max_depth child steps below the root is one level too deep.
        deeper = _DEEPER_THAN[limits.max_depth] = etree.XPath(
            "boolean(" + "/".join(["*"] * limits.max_depth) + ")")
    return _COUNT_ELEMENTS(root) <= limits.max_elements and not deeper(root)


def _check_shape(root: etree._Element, name: str, limits: Limits) -> None:
    """Element count and nesting depth, in one walk (libxml2 alone stops at 256)."""
    if _within_limits(root, limits):
        return
    depth = 0
    count = 0
    for event, el in etree.iterwalk(root, events=("start", "end")):
        if event == "end":
            depth -= 1
            continue
        depth += 1
        count += 1
        if depth > limits.max_depth:
            raise LoadError(
                "xml.depth",
                f"elements are nested more than {limits.max_depth} deep",
                file=name,
                line=el.sourceline,
            )
        if count > limits.max_elements:
            raise LoadError(
                "size.elements",
                f"the model has more than {limits.max_elements:,} elements",
                file=name,
                line=el.sourceline,
            )


SideReader = Callable[[str], "bytes | None"]


@dataclass(frozen=True)
class Source:
    """One BPMN model as read: its tree plus a way to read its form files."""

    name: str
    root: etree._Element = field(repr=False, compare=False)
    data: bytes = field(repr=False, compare=False)
    read_side: SideReader = field(repr=False, compare=False, default=lambda _n: None)

    def side_file(self, ref: str) -> bytes | None:
        """The bytes of a file the model references (a form), or None if absent."""
        return self.read_side(ref)


def require_bpmn(root: etree._Element, name: str) -> None:
    """Refuse XML whose root is not a BPMN 2.0 ``definitions`` element."""
    if (
        not isinstance(root.tag, str)
        or etree.QName(root).namespace != BPMN_NS
        or etree.QName(root).localname != "definitions"
    ):
        tag = root.tag if isinstance(root.tag, str) else "?"
        raise LoadError(
            "bpmn.not_bpmn",
            f"not a BPMN 2.0 model: the root element is {tag}, expected {{{BPMN_NS}}}definitions",
            file=name,
            line=root.sourceline,
        )


def _safe_relative(ref: str) -> PurePosixPath | None:
    """A reference as a relative path that cannot leave its folder, or None."""
    ref = ref.replace("\\", "/").strip()
    if not ref or "\x00" in ref:
        return None
    path = PurePosixPath(ref)
    if path.is_absolute() or ".." in path.parts or ":" in path.parts[0]:
        return None
    return path


def _folder_reader(folder: Path, limits: Limits) -> SideReader:
    def read(ref: str) -> bytes | None:
        rel = _safe_relative(ref)
        if rel is None:
            return None
        target = folder.joinpath(*rel.parts)
        try:
            st = os.lstat(target)
        except OSError:
            return None
        # Links could point anywhere on the server; only plain files are read.
        if not stat.S_ISREG(st.st_mode) or st.st_size > limits.max_side_file_bytes:
            return None
        return target.read_bytes()

    return read


def load_bytes(
    data: bytes, name: str, *, read_side: SideReader | None = None, limits: Limits = DEFAULT_LIMITS
) -> Source:
    """One model from bytes (an upload). ``name`` is used in messages."""
    if data[:4] == b"PK\x03\x04":
        sources = list(load_zip(data, name, limits=limits))
        if len(sources) != 1:
            raise LoadError("zip.models", f"the bundle holds {len(sources)} models; expected one", file=name)
        return sources[0]
    root = parse_xml(data, name, limits)
    require_bpmn(root, name)
    return Source(name, root, data, read_side or (lambda _n: None))


def load_path(path: str | Path, limits: Limits = DEFAULT_LIMITS) -> list[Source]:
    """The model(s) in a ``.bpmn`` file or a ``.zip`` bundle on disk."""
    p = Path(path)
    name = str(path)
    try:
        st = p.stat()
    except OSError as exc:
        raise LoadError("io.missing", f"cannot read: {exc.strerror}", file=name) from None
    if not stat.S_ISREG(st.st_mode):
        raise LoadError("io.not_file", "not a regular file", file=name)
    cap = limits.max_zip_total_bytes if p.suffix.lower() == ".zip" else limits.max_file_bytes
    if st.st_size > cap:
        raise LoadError("size.file", f"the file is {st.st_size:,} bytes; the limit is {cap:,}", file=name)
    data = p.read_bytes()
    if data[:4] == b"PK\x03\x04":
        return list(load_zip(data, name, limits=limits))
    return [load_bytes(data, name, read_side=_folder_reader(p.parent, limits), limits=limits)]


def iter_model_paths(folder: str | Path) -> list[Path]:
    """Every model file below a folder, sorted by path (DESIGN.md §7)."""
    found = [
        p
        for p in Path(folder).rglob("*")
        if p.is_file() and not p.is_symlink() and p.name.lower().endswith(MODEL_SUFFIXES)
    ]
    return sorted(found)


def load_zip(data: bytes, name: str, *, limits: Limits = DEFAULT_LIMITS) -> Iterator[Source]:
    """Every model inside a zip bundle, each able to read the bundle's other files."""
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
        infos = zf.infolist()
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise LoadError("zip.bad", f"not a readable zip bundle: {exc}", file=name) from None
    if len(infos) > limits.max_zip_entries:
        raise LoadError(
            "zip.entries", f"the bundle has {len(infos)} entries; the limit is {limits.max_zip_entries}", file=name
        )
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in infos:
        if info.is_dir():
            continue
        rel = _safe_relative(info.filename)
        if rel is None:
            raise LoadError("zip.path", f"unsafe path in bundle: {info.filename!r}", file=name)
        if stat.S_ISLNK(info.external_attr >> 16):
            raise LoadError("zip.link", f"links are not allowed in bundles: {info.filename!r}", file=name)
        total += info.file_size
        if total > limits.max_zip_total_bytes:
            raise LoadError(
                "zip.size", f"the bundle unpacks to more than {limits.max_zip_total_bytes:,} bytes", file=name
            )
        if (
            info.compress_size
            and info.file_size / info.compress_size > limits.max_zip_ratio
            and info.file_size > 1024 * 1024
        ):
            raise LoadError(
                "zip.ratio",
                f"{info.filename!r} is compressed {info.file_size // info.compress_size}:1, a zip bomb",
                file=name,
            )
        members[str(rel)] = info

    def read_member(member: str, cap: int) -> bytes:
        info = members[member]
        with zf.open(info) as fh:
            # Read one byte past the cap: declared sizes in a zip can lie.
            blob = fh.read(cap + 1)
        if len(blob) > cap:
            raise LoadError("zip.size", f"{member!r} is larger than {cap:,} bytes", file=name)
        return blob

    models = sorted(m for m in members if m.lower().endswith(MODEL_SUFFIXES))
    if not models:
        raise LoadError("zip.no_model", "the bundle holds no .bpmn model", file=name)
    for member in models:
        folder = PurePosixPath(member).parent

        def read_side(ref: str, _folder: PurePosixPath = folder) -> bytes | None:
            rel = _safe_relative(ref)
            if rel is None:
                return None
            key = str(_folder / rel) if str(_folder) != "." else str(rel)
            if key not in members:
                return None
            try:
                return read_member(key, limits.max_side_file_bytes)
            except LoadError:
                return None

        label = f"{name}!{member}"
        blob = read_member(member, limits.max_file_bytes)
        root = parse_xml(blob, label, limits)
        require_bpmn(root, label)
        yield Source(label, root, blob, read_side)
