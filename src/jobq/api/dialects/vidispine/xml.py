"""Vidispine's XML: documents out (same element names as the JSON keys) and metadata in.

Request bodies are parsed with the standard library after a first pass that refuses any
document type declaration, so no entity (internal or external) can ever be declared or expanded:
the billion-laughs and external-entity attacks have nothing to work with.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from typing import Any
from xml.parsers import expat

from jobq.errors import InvalidInput

NS = "http://xml.vidispine.com/schema/vidispine"


def to_xml(root: str, doc: dict[str, Any]) -> bytes:
    """`doc` as `<root xmlns=NS>...`; lists repeat their element, None is left out."""
    element = ET.Element(root, {"xmlns": NS})
    _fill(element, doc)
    out: bytes = ET.tostring(element, encoding="utf-8", xml_declaration=True)
    return out


def _fill(element: ET.Element, value: Any) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            for one in item if isinstance(item, list) else [item]:
                if one is not None:
                    _fill(ET.SubElement(element, key), one)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    else:
        element.text = str(value)


class _NoDoctype(Exception):
    pass


def _refuse(*_: Any) -> None:
    raise _NoDoctype


def parse(body: bytes) -> ET.Element:
    """The root element of an XML request body; InvalidInput if it is not acceptable XML."""
    scanner = expat.ParserCreate()
    scanner.StartDoctypeDeclHandler = _refuse
    scanner.EntityDeclHandler = _refuse
    try:
        scanner.Parse(body, True)
        return ET.fromstring(body)
    except _NoDoctype:
        raise InvalidInput(
            "XML with a document type declaration is refused", context="body", value="DOCTYPE"
        ) from None
    except (expat.ExpatError, ET.ParseError) as exc:
        raise InvalidInput(f"the body is not well-formed XML: {exc}", context="body") from None


def local(tag: str) -> str:
    """An element name without its namespace."""
    return tag.rpartition("}")[2]


def metadata_fields(body: bytes) -> list[tuple[str, str]]:
    """(key, value) of each field of a SimpleMetadataDocument."""
    root = parse(body)
    if local(root.tag) != "SimpleMetadataDocument":
        raise InvalidInput(
            f"expected a SimpleMetadataDocument, got {local(root.tag)}",
            context="body",
            value=local(root.tag),
        )
    out = []
    for item in root:
        if local(item.tag) != "field":
            continue
        parts = {local(child.tag): child.text or "" for child in item}
        if "key" not in parts:
            raise InvalidInput("a metadata field has no key", context="body")
        out.append((parts["key"], parts.get("value", "")))
    return out
