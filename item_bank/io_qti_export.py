"""Writing items as a QTI 3.0 (or 2.2) content package that the official XSDs accept.

Each item is one ``assessmentItem`` with one ``choiceInteraction`` (choices
``A``–``F`` in Seleksi's order, not shuffled) and a ``responseDeclaration``
holding both the key (``correctResponse``) and the points of the options
(``mapping``, scored with the ``map_response`` template): a dichotomous
item maps its key to the subtest's points (SKD: 5) and the rest to 0; an
option-scored item maps every option to its points, its ``correctResponse``
being the option worth most. Other tools therefore score as Seleksi does.

Stems: text as a paragraph with ``br`` line breaks (or ``pre`` when its
spacing would not survive HTML's whitespace collapsing), Markdown in
``pre``, HTML inside ``div class="seleksi-stem"``; pictures are packed under
``media/``. What QTI has no place for (subtest, content area, status,
version, enemy group, source, IRT parameters with their scale and
calibration run, the subtests' definitions) travels as Seleksi metadata
inside each resource's LOM record (namespace
:data:`item_bank.qti_xml.SELEKSI_NS`), so importing the package into
another Seleksi gives back the same items.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Iterable, Mapping

from lxml import etree
from lxml import html as lxml_html

from item_bank.html import MEDIA_HREF, MEDIA_TYPES
from item_bank.io_qti import STEM_WRAPPER_CLASS, html_fragments, text_content
from item_bank.qti_xml import CP_NS, LOM_NS, QTI_NS, SELEKSI_NS, XSI_NS, qti3_name
from item_bank.records import (
    OPTION_LETTERS,
    BankDocument,
    IrtRecord,
    ItemRecord,
    MediaFile,
    ScoringMode,
    StemFormat,
    SubtestSpec,
)

QTI_VERSIONS = ("3.0", "2.2")
SCHEMA_LOCATION = {
    "2.2": "http://www.imsglobal.org/xsd/qti/qtiv2p2/imsqti_v2p2.xsd",
    "3.0": "https://purl.imsglobal.org/spec/qti/v3p0/schema/xsd/imsqti_asiv3p0_v1p0.xsd",
}
MAP_RESPONSE = {
    "2.2": "http://www.imsglobal.org/question/qti_v2p2/rptemplates/map_response",
    "3.0": "https://purl.imsglobal.org/spec/qti/v3p0/rptemplates/map_response",
}
ITEM_TYPE = {"2.2": "imsqti_item_xmlv2p2", "3.0": "imsqti_item_xmlv3p0"}
PACKAGE_SCHEMA = {"2.2": ("QTIv2.2 Package", "1.0.0"), "3.0": ("QTI Package", "3.0.0")}
# Fixed time stamp for zip members: the same bank gives the same bytes.
_ZIP_TIME = (2024, 1, 1, 0, 0, 0)


def number(value: float) -> str:
    """A float in its shortest exact form (``5`` for 5.0; ``0.21``)."""
    return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)


def item_identifier(item_id: str) -> str:
    """A QTI identifier (an XML NCName) for a Seleksi id; ids starting with a digit get ``I``."""
    return item_id if item_id[0].isalpha() or item_id[0] == "_" else f"I{item_id}"


def write_qti_package(
    doc: BankDocument, media: Mapping[str, MediaFile], *, version: str = "3.0"
) -> bytes:
    """A zip (bytes) with ``imsmanifest.xml``, ``items/<id>.xml`` and ``media/``.

    ``media``: the images the HTML items show, by SHA-256 (all must be there).
    """
    if version not in QTI_VERSIONS:
        raise ValueError(f"QTI version {version!r}; this Seleksi writes {', '.join(QTI_VERSIONS)}")
    writer = _Writer(version, {s.code: s.points_correct for s in doc.subtests})
    files: dict[str, bytes] = {}
    resources: list[tuple[ItemRecord, str, list[str]]] = []
    for item in doc.items:
        path = f"items/{item.item_id}.xml"
        xml, digests = writer.item(item)
        files[path] = xml
        media_paths = []
        for digest in digests:
            mf = media[digest]
            media_paths.append(f"media/{digest}.{_ext(mf)}")
            files[media_paths[-1]] = mf.data
        resources.append((item, path, media_paths))
    manifest = writer.manifest(doc.subtests, resources)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in [("imsmanifest.xml", manifest), *sorted(files.items())]:
            info = zipfile.ZipInfo(name, _ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    return out.getvalue()


def _ext(mf: MediaFile) -> str:
    return MEDIA_TYPES[mf.mime_type]


def media_digests(items: Iterable[ItemRecord]) -> set[str]:
    """SHA-256 digests of the images that HTML items show."""
    out: set[str] = set()
    for item in items:
        if item.stem_format is not StemFormat.HTML:
            continue
        for fragment in (item.stem, *item.options):
            for part in html_fragments(fragment):
                if isinstance(part, str):
                    continue
                for img in part.iter("img"):
                    found = MEDIA_HREF.match(img.get("src") or "")
                    if found:
                        out.add(found.group(1))
    return out


class _Writer:
    def __init__(self, version: str, points_correct: Mapping[str, float]) -> None:
        self.version = version
        self.ns = QTI_NS[version]
        self.points_correct = points_correct

    def el(self, name: str, attrs: Mapping[str, str] | None = None) -> etree._Element:
        """A QTI element by its 2.x name, spelt for this version."""
        if self.version == "3.0":
            name = qti3_name(name, element=True)
            attrs = {qti3_name(k, element=False): v for k, v in (attrs or {}).items()}
        return etree.Element(f"{{{self.ns}}}{name}", dict(attrs or {}))

    def sub(
        self, parent: etree._Element, name: str, attrs: Mapping[str, str] | None = None
    ) -> etree._Element:
        child = self.el(name, attrs)
        parent.append(child)
        return child

    def xhtml(self, name: str, attrs: Mapping[str, str] | None = None) -> etree._Element:
        return etree.Element(f"{{{self.ns}}}{name}", dict(attrs or {}))

    # -- items -----------------------------------------------------------------

    def item(self, item: ItemRecord) -> tuple[bytes, list[str]]:
        root = etree.Element(
            f"{{{self.ns}}}{'qti-assessment-item' if self.version == '3.0' else 'assessmentItem'}",
            nsmap={None: self.ns, "xsi": XSI_NS},
        )
        root.set(f"{{{XSI_NS}}}schemaLocation", f"{self.ns} {SCHEMA_LOCATION[self.version]}")
        for name, text in (
            ("identifier", item_identifier(item.item_id)),
            ("title", item.item_id),
            ("adaptive", "false"),
            ("timeDependent", "false"),
        ):
            root.set(qti3_name(name, element=False) if self.version == "3.0" else name, text)
        letters = OPTION_LETTERS[: len(item.options)]
        decl = self.sub(
            root,
            "responseDeclaration",
            {"identifier": "RESPONSE", "cardinality": "single", "baseType": "identifier"},
        )
        if item.points is not None:
            points = item.points
            best = max(range(len(points)), key=lambda k: (points[k], -k))
            key_letter = letters[best]
            values = [float(p) for p in points]
        else:
            assert item.key is not None
            key_letter = letters[item.key]
            values = [0.0] * len(item.options)
            values[item.key] = self.points_correct.get(item.subtest, 5.0)
        correct = self.sub(decl, "correctResponse")
        self.sub(correct, "value").text = key_letter
        mapping = self.sub(decl, "mapping", {"defaultValue": "0"})
        for letter, value in zip(letters, values, strict=True):
            self.sub(mapping, "mapEntry", {"mapKey": letter, "mappedValue": number(value)})
        self.sub(
            root,
            "outcomeDeclaration",
            {"identifier": "SCORE", "cardinality": "single", "baseType": "float"},
        )
        body = self.sub(root, "itemBody")
        digests: list[str] = []
        self.stem(body, item, digests)
        interaction = self.sub(
            body,
            "choiceInteraction",
            {"responseIdentifier": "RESPONSE", "shuffle": "false", "maxChoices": "1"},
        )
        for letter, option in zip(letters, item.options, strict=True):
            choice = self.sub(interaction, "simpleChoice", {"identifier": letter})
            if item.stem_format is StemFormat.HTML:
                self.html_into(choice, option, digests)
            else:
                self.text_into(choice, option, block=False)
        self.sub(root, "responseProcessing", {"template": MAP_RESPONSE[self.version]})
        xml = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=False)
        return xml, list(dict.fromkeys(digests))

    def stem(self, body: etree._Element, item: ItemRecord, digests: list[str]) -> None:
        if item.stem_format is StemFormat.HTML:
            wrapper = self.xhtml("div", {"class": STEM_WRAPPER_CLASS})
            body.append(wrapper)
            self.html_into(wrapper, item.stem, digests)
        elif item.stem_format is StemFormat.MARKDOWN:
            pre = self.xhtml("pre")
            pre.text = item.stem
            body.append(pre)
        else:
            self.text_into(body, item.stem, block=True)

    def text_into(self, parent: etree._Element, text: str, *, block: bool) -> None:
        """Plain text with ``br`` line ends (in a ``p`` when ``block``), else exactly in ``pre``."""
        box = self.xhtml("div")
        holder = etree.SubElement(box, f"{{{self.ns}}}p") if block else box
        lines = text.split("\n")
        holder.text = lines[0]
        for line in lines[1:]:
            br = etree.SubElement(holder, f"{{{self.ns}}}br")
            br.tail = line
        if text_content(box) != text:  # spacing HTML would collapse: keep it exactly
            pre = etree.SubElement(parent, f"{{{self.ns}}}pre")
            pre.text = text
        elif block:
            parent.append(holder)
        else:
            parent.text = (parent.text or "") + (box.text or "")
            for child in list(box):
                parent.append(child)

    def html_into(self, parent: etree._Element, fragment: str, digests: list[str]) -> None:
        """A stored HTML fragment as XHTML children of ``parent`` (images under ../media/)."""
        last: etree._Element | None = None
        for part in html_fragments(fragment):
            if isinstance(part, str):
                if last is None:
                    parent.text = (parent.text or "") + part
                else:
                    last.tail = (last.tail or "") + part
                continue
            last = self._convert(part, digests)
            parent.append(last)

    def _convert(self, el: lxml_html.HtmlElement, digests: list[str]) -> etree._Element:
        out = self.xhtml(str(el.tag), {k: str(v) for k, v in el.attrib.items()})
        if out.get("src") is not None:
            found = MEDIA_HREF.match(out.get("src") or "")
            if found:
                digests.append(found.group(1))
                out.set("src", f"../{found.group(0)}")
        out.text = el.text
        for child in el:
            out.append(self._convert(child, digests))
        out.tail = el.tail
        return out

    # -- manifest --------------------------------------------------------------

    def manifest(
        self,
        subtests: Iterable[SubtestSpec],
        resources: Iterable[tuple[ItemRecord, str, list[str]]],
    ) -> bytes:
        cp = CP_NS[self.version]
        root = etree.Element(
            f"{{{cp}}}manifest",
            nsmap={None: cp, "imsmd": LOM_NS, "sk": SELEKSI_NS},
            identifier="MANIFEST-seleksi",
        )
        meta = etree.SubElement(root, f"{{{cp}}}metadata")
        schema, schema_version = PACKAGE_SCHEMA[self.version]
        etree.SubElement(meta, f"{{{cp}}}schema").text = schema
        etree.SubElement(meta, f"{{{cp}}}schemaversion").text = schema_version
        lom = etree.SubElement(meta, f"{{{LOM_NS}}}lom")
        bank = etree.SubElement(lom, f"{{{SELEKSI_NS}}}subtests")
        for spec in subtests:
            attrs = {"code": spec.code, "name": spec.name, "scoring": spec.scoring.value}
            if spec.scoring is ScoringMode.DICHOTOMOUS:
                attrs["points-correct"] = repr(spec.points_correct)
            else:
                attrs["min-points"] = str(spec.min_points)
                attrs["max-points"] = str(spec.max_points)
            st = etree.SubElement(bank, f"{{{SELEKSI_NS}}}subtest", attrs)
            for area in spec.content_areas:
                etree.SubElement(
                    st, f"{{{SELEKSI_NS}}}content-area", {"code": area.code, "name": area.name}
                )
        etree.SubElement(root, f"{{{cp}}}organizations")
        res_root = etree.SubElement(root, f"{{{cp}}}resources")
        for item, path, media_paths in resources:
            res = etree.SubElement(
                res_root,
                f"{{{cp}}}resource",
                identifier=f"RES-{item_identifier(item.item_id)}",
                type=ITEM_TYPE[self.version],
                href=path,
            )
            rmeta = etree.SubElement(res, f"{{{cp}}}metadata")
            lom = etree.SubElement(rmeta, f"{{{LOM_NS}}}lom")
            general = etree.SubElement(lom, f"{{{LOM_NS}}}general")
            ident = etree.SubElement(general, f"{{{LOM_NS}}}identifier")
            etree.SubElement(ident, f"{{{LOM_NS}}}catalog").text = "seleksi"
            etree.SubElement(ident, f"{{{LOM_NS}}}entry").text = item.item_id
            lom.append(_seleksi_item(item))
            etree.SubElement(res, f"{{{cp}}}file", href=path)
            for media_path in media_paths:
                etree.SubElement(res, f"{{{cp}}}file", href=media_path)
        return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _seleksi_item(item: ItemRecord) -> etree._Element:
    attrs = {
        "id": item.item_id,
        "subtest": item.subtest,
        "content-area": item.content_area,
        "status": item.status.value,
        "stem-format": item.stem_format.value,
    }
    if item.version is not None:
        attrs["version"] = str(item.version)
    if item.enemy_group is not None:
        attrs["enemy-group"] = item.enemy_group
    if item.source is not None:
        attrs["source"] = item.source
    el = etree.Element(f"{{{SELEKSI_NS}}}item", attrs)
    if item.irt is not None:
        el.append(_seleksi_irt(item.irt))
    return el


def _seleksi_irt(irt: IrtRecord) -> etree._Element:
    """IRT parameters with their scale (logistic, D = 1) and calibration run."""
    attrs: dict[str, str] = {"model": irt.model, "scale": irt.scale, "run": irt.run}
    for name in ("a", "b", "c", "d", "se_a", "se_b", "se_c", "se_d"):
        value = getattr(irt, name)
        if value is not None:
            attrs[name.replace("_", "-")] = repr(float(value))
    if irt.thresholds:
        attrs["thresholds"] = " ".join(repr(float(t)) for t in irt.thresholds)
    if irt.se_thresholds:
        attrs["se-thresholds"] = " ".join(
            "-" if s is None else repr(float(s)) for s in irt.se_thresholds
        )
    if irt.sample_size is not None:
        attrs["sample-size"] = str(irt.sample_size)
    if irt.calibrated_at is not None:
        attrs["calibrated-at"] = irt.calibrated_at.isoformat()
    return etree.Element(f"{{{SELEKSI_NS}}}irt", attrs)
