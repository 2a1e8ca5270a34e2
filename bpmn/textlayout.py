"""Text direction, width estimates and line wrapping for diagram labels.

The renderer runs on the server, where no font metrics are at hand, so text
width is *estimated* per character class with widths measured on the fonts of
our stack (Vazirmatn, DejaVu Sans) and rounded up: a label that wraps a little
early looks fine, one that spills over its task does not.

Persian is never reshaped or reordered here: browsers shape Arabic script and
apply the bidi algorithm themselves. We only decide the base direction of each
label (first strong character, as HTML's ``dir="auto"``) and where lines break:
at spaces, never at a zero-width non-joiner (ZWNJ, U+200C), which sits *inside*
Persian words such as «می‌شود».
"""

from __future__ import annotations

import re
import unicodedata

ZWNJ = "\u200c"
MAX_LABEL_CHARS = 1000

# Em fractions per character class, fitted to advances measured in Chromium
# with Vazirmatn at 12px over the sample models' labels (Persian phrases land
# within about 15%), then rounded up a little: early wrapping looks fine,
# spilling out of a task does not.
_W_AR_NARROW = 0.38   # alef, reh, dal, waw...: one-stroke letters
_W_AR = 0.52
_W_AR_WIDE = 0.76     # seen, sad, ain, qaf...: letters with wide bowls
_W_LOWER = 0.48
_W_UPPER = 0.66
_W_DIGIT = 0.58
_W_SPACE = 0.29
_W_NARROW = 0.28   # punctuation, i, l, marks
_W_WIDE = 0.82     # m, w, W, M, CJK and the like
_W_ZERO = 0.0      # ZWNJ, ZWJ, bidi controls, combining marks

_AR_NARROW = set("اآأإٱرزژدذوؤءة")
_AR_WIDE = set("سشصضقعغ")
_NARROW = set(".,:;!|'`()[]{}-ilIjtf/\\\"")
_WIDE = set("mwMW@%")
# Characters XML 1.0 cannot carry; model text never has them (the parser
# would have refused), but ids and our own inputs are scrubbed anyway.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")
_SPACES = re.compile(r"[ \t\r\n\u00a0\u2000-\u200b\u3000]+")


def clean(text: str | None) -> str:
    """Text made safe for an XML text node, with runs of white space collapsed."""
    if not text:
        return ""
    # Fast path: printable text has no control, separator or surrogate code points.
    if text.isprintable() and "  " not in text and text[0] != " " and text[-1] != " ":
        return text
    return _SPACES.sub(" ", _NOT_XML.sub("", text)).strip()


def _char_width(ch: str) -> float:
    if ch == " ":
        return _W_SPACE
    if ch in _NARROW:
        return _W_NARROW
    if ch in _WIDE:
        return _W_WIDE
    cat = unicodedata.category(ch)
    if cat in ("Mn", "Me", "Cf"):
        return _W_ZERO
    if "\u0600" <= ch <= "\u08ff" or "\ufb50" <= ch <= "\ufeff":
        return _W_AR_NARROW if ch in _AR_NARROW else _W_AR_WIDE if ch in _AR_WIDE else _W_AR
    if cat == "Nd":
        return _W_DIGIT
    if cat == "Lu":
        return _W_UPPER
    if cat.startswith("L"):
        return _W_WIDE if unicodedata.east_asian_width(ch) in ("W", "F") else _W_LOWER
    return _W_NARROW if cat.startswith("P") else _W_LOWER


class _Widths(dict):
    """Character widths, computed once per character (a plain dict lookup after that)."""

    def __missing__(self, ch: str) -> float:
        w = self[ch] = _char_width(ch)
        return w


_WIDTHS = _Widths()


def char_width(ch: str) -> float:
    """Estimated advance of one character, in em."""
    return _WIDTHS[ch]


def text_width(text: str, font_size: float) -> float:
    """Estimated width of ``text`` in user units at ``font_size``."""
    return sum(map(_WIDTHS.__getitem__, text)) * font_size


def is_rtl(text: str) -> bool:
    """True when the first strong character is right-to-left (Persian, Arabic, Hebrew)."""
    for ch in text:
        bidi = unicodedata.bidirectional(ch)
        if bidi in ("R", "AL"):
            return True
        if bidi == "L":
            return False
    return False


def _is_arabic_word(word: str) -> bool:
    return any("\u0600" <= c <= "\u08ff" or "\ufb50" <= c <= "\ufeff" for c in word)


def _split_long(word: str, max_width: float, font_size: float) -> list[str]:
    """Cut a word wider than a line. Only non-Arabic words (ids, URLs) are cut:
    cutting Arabic script inside a word would change how its letters join."""
    if _is_arabic_word(word):
        return [word]
    parts: list[str] = []
    start, width = 0, 0.0
    for i, ch in enumerate(word):
        w = _WIDTHS[ch] * font_size
        if i > start and width + w > max_width:
            parts.append(word[start:i])
            start, width = i, 0.0
        width += w
    parts.append(word[start:])
    return parts


_WRAPPED: dict[tuple, tuple[str, ...]] = {}


def wrap(text: str, max_width: float, font_size: float, max_lines: int | None = None,
         first_width: float | None = None, first_lines: int = 1) -> list[str]:
    """Break ``text`` into lines no wider than ``max_width`` (estimated).

    Lines break at spaces only; a ZWNJ is part of its word. When ``max_lines``
    is given and the text needs more, the last kept line ends with an ellipsis
    (the full text goes into the element's tooltip). ``first_width`` narrows
    the first ``first_lines`` lines (to clear an icon).
    """
    # Diagrams repeat names (and the same name is wrapped again to clear an icon): remembered.
    key = (text, max_width, font_size, max_lines, first_width, first_lines)
    done = _WRAPPED.get(key)
    if done is None:
        done = tuple(_wrap(text, max_width, font_size, max_lines, first_width, first_lines))
        if len(_WRAPPED) > 20_000:
            _WRAPPED.clear()
        _WRAPPED[key] = done
    return list(done)


def _wrap(text: str, max_width: float, font_size: float, max_lines: int | None,
          first_width: float | None, first_lines: int) -> list[str]:
    text = clean(text)
    if not text:
        return []
    if len(text) > MAX_LABEL_CHARS:  # nobody reads more; a hostile name must not cost more
        text = text[:MAX_LABEL_CHARS] + "…"
    words: list[tuple[str, float]] = []
    for w in text.split(" "):
        ww = text_width(w, font_size)
        if ww <= max_width:
            words.append((w, ww))
        else:
            words.extend((part, text_width(part, font_size)) for part in _split_long(w, max_width, font_size))
    space = _W_SPACE * font_size
    lines: list[str] = []
    cur: list[str] = []
    cur_w = 0.0
    for w, ww in words:
        limit = first_width if first_width is not None and len(lines) < first_lines else max_width
        if cur and cur_w + space + ww > limit:
            lines.append(" ".join(cur))
            cur, cur_w = [w], ww
        else:
            cur_w = cur_w + space + ww if cur else ww
            cur.append(w)
    if cur:
        lines.append(" ".join(cur))
    if max_lines is not None and len(lines) > max(max_lines, 1):
        keep = lines[: max(max_lines, 1)]
        last = keep[-1]
        while last and text_width(last + "…", font_size) > max_width and " " in last:
            last = last.rsplit(" ", 1)[0]
        keep[-1] = last + "…"
        return keep
    return lines
