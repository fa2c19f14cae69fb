"""XML of any size re-indented for the inspector, by streaming it through expat.

:func:`pretty_xml` feeds the text to a SAX parser a chunk at a time and writes
each element on its own line, indented by depth (an element holding only text
stays on one line: ``<b>1</b>``; one with neither text nor children is
``<b/>``). It stops as soon as ``limit`` characters are written, so a 50 MB
body costs what its first screens cost, and it never builds a tree. A cut
view (at most ``limit`` characters, whole lines) ends with a comment line
saying the view stops there and the download has the whole body.

Expat never fetches external entities or DTDs here (both features are off)
and refuses entity-expansion bombs, so a hostile body cannot reach out or blow
up. Text that is not well-formed XML in the part read gives ``None``: the
inspector then shows it as text.
"""

from __future__ import annotations

import xml.sax
from dataclasses import dataclass, field
from xml.sax.handler import ContentHandler, LexicalHandler
from xml.sax.saxutils import escape, quoteattr
from xml.sax.xmlreader import AttributesImpl

CHUNK = 64 * 1024  # characters fed to the parser at a time
INDENT = "  "


@dataclass
class PrettyXml:
    """The re-indented text (at most ``limit`` characters plus the closing note)."""

    text: str
    cut: bool  # the body goes on past what was formatted


class _Enough(Exception):
    """Raised from a handler once the output is long enough."""


@dataclass
class _Writer(ContentHandler, LexicalHandler):
    limit: int
    out: list[str] = field(default_factory=list)
    size: int = 0
    depth: int = 0
    open_tag: str | None = None  # the start tag of the innermost element, not yet written
    text: list[str] = field(default_factory=list)
    text_size: int = 0

    def __post_init__(self) -> None:
        ContentHandler.__init__(self)

    def _line(self, depth: int, content: str) -> None:
        line = f"{INDENT * depth}{content}\n"
        self.out.append(line)
        self.size += len(line)
        if self.size >= self.limit:
            raise _Enough

    def _flush(self) -> None:
        """Write the pending start tag (it has children) and any text before them."""
        if self.open_tag is not None:
            self._line(self.depth - 1, f"{self.open_tag}>")
            self.open_tag = None
        text = "".join(self.text).strip()
        self.text.clear()
        self.text_size = 0
        if text:
            self._line(self.depth, escape(text))

    def startDocument(self) -> None:
        self._line(0, '<?xml version="1.0" ?>')

    def startElement(self, name: str, attrs: AttributesImpl) -> None:
        self._flush()
        pairs = "".join(f" {key}={quoteattr(value)}" for key, value in attrs.items())
        self.open_tag = f"<{name}{pairs}"
        self.depth += 1

    def endElement(self, name: str) -> None:
        self.depth -= 1
        if self.open_tag is not None:  # a leaf: text only, or nothing
            text = "".join(self.text).strip()
            self.text.clear()
            self.text_size = 0
            tag, self.open_tag = self.open_tag, None
            self._line(self.depth, f"{tag}>{escape(text)}</{name}>" if text else f"{tag}/>")
            return
        self._flush()
        self._line(self.depth, f"</{name}>")

    def characters(self, content: str) -> None:
        self.text.append(content)
        self.text_size += len(content)
        if self.text_size > self.limit:  # one huge text node: show its start
            if self.open_tag is not None:
                self._line(self.depth - 1, f"{self.open_tag}>")
            self._line(self.depth, escape("".join(self.text)))

    def processingInstruction(self, target: str, data: str) -> None:
        self._flush()
        self._line(self.depth, f"<?{target} {data}?>" if data else f"<?{target}?>")

    def comment(self, content: str) -> None:
        self._flush()
        self._line(self.depth, f"<!--{content}-->")

    def startDTD(self, name: str, public_id: str | None, system_id: str | None) -> None:
        ids = f' PUBLIC "{public_id}"' if public_id else ""
        ids += f' "{system_id}"' if system_id and public_id else ""
        ids += f' SYSTEM "{system_id}"' if system_id and not public_id else ""
        self._line(0, f"<!DOCTYPE {name}{ids}>")


def pretty_xml(text: str, limit: int) -> PrettyXml | None:
    """``text`` re-indented, cut after about ``limit`` characters; ``None`` if it is no XML."""
    writer = _Writer(limit)
    parser = xml.sax.make_parser()
    parser.setFeature(xml.sax.handler.feature_external_ges, False)
    parser.setFeature(xml.sax.handler.feature_external_pes, False)
    parser.setContentHandler(writer)
    parser.setProperty(xml.sax.handler.property_lexical_handler, writer)
    cut = False
    try:
        for start in range(0, len(text), CHUNK):
            parser.feed(text[start : start + CHUNK])  # type: ignore[attr-defined]
        parser.close()  # type: ignore[attr-defined]
    except _Enough:
        cut = True
    except (xml.sax.SAXException, ValueError):
        return None
    shown = "".join(writer.out).rstrip("\n")
    if not cut:
        return PrettyXml(shown, cut=False)
    note = (
        f"<!-- orchestra: the view stops here; the body has {len(text):,} characters, "
        "download it for all of them -->"
    )
    shown = shown[: max(0, limit - len(note) - 1)]
    end = shown.rfind("\n")
    if end > len(shown) // 2:  # whole lines, unless one line is most of the view
        shown = shown[:end]
    return PrettyXml(f"{shown}\n{note}", cut=True)
