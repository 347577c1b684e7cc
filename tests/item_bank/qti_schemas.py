"""The official QTI XSDs (tests/data/qti/xsd), loaded once, with no network.

See tests/data/qti/README.md for where they come from and why two imports of
the QTI 3.0 schema are redirected.
"""

from __future__ import annotations

import functools
from pathlib import Path

import pytest
from lxml import etree

XSD_DIR = Path(__file__).resolve().parents[1] / "data" / "qti" / "xsd"
SCHEMAS = {
    ("item", "3.0"): "qtiv3p0/imsqti_asiv3p0_sbacv1p0_v1p0.xsd",
    ("item", "2.2"): "qtiv2p2/imsqti_v2p2.xsd",
    ("manifest", "3.0"): "qtiv3p0/imsqtiv3p0_imscpv1p2_v1p0.xsd",
    ("manifest", "2.2"): "imscp_v1p1.xsd",
}


class _Redirect(etree.Resolver):
    """QTI 3.0's MathML 3 / SSML 1.1 imports → the W3C schemas of those namespaces."""

    def resolve(self, url: str, pubid: str | None, context: object) -> object:
        if url.endswith("w3/mathml3/mathml3.xsd"):
            return self.resolve_filename(str(XSD_DIR / "w3/mathml2/mathml2.xsd"), context)
        if url.endswith("w3/ssml11/ssmlv1p1-core.xsd"):
            return self.resolve_filename(str(XSD_DIR / "w3/ssml10/ssmlv1p0.xsd"), context)
        return None


@functools.cache
def schema(kind: str, version: str) -> etree.XMLSchema:
    path = XSD_DIR / SCHEMAS[(kind, version)]
    if not path.is_file():
        pytest.skip(f"the QTI XSDs are not in {XSD_DIR} (see tests/data/qti/README.md)")
    parser = etree.XMLParser(no_network=True)
    if version == "3.0" and kind == "item":
        parser.resolvers.add(_Redirect())
    return etree.XMLSchema(etree.parse(str(path), parser))


def errors(kind: str, version: str, xml: bytes) -> list[str]:
    """Schema errors of a document ([] when it is valid)."""
    xsd = schema(kind, version)
    doc = etree.fromstring(xml, etree.XMLParser(no_network=True, resolve_entities=False))
    if xsd.validate(doc):
        return []
    return [f"line {e.line}: {e.message}" for e in xsd.error_log]
