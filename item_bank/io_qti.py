"""Reading QTI 2.1, 2.2 and 3.0: content packages (zip + imsmanifest.xml) and single item files.

See docs/item-format.md ("QTI") for the mapping. In short: one
``choiceInteraction`` per item becomes a Seleksi item; its choices are the
options in document order; ``correctResponse`` gives the key (dichotomous
subtests, TWK/TIU) and a ``mapping`` the points of every option
(option-scored subtests, TKP 1–5) — the subtest's scoring decides which is
used. The stem is the item body without the interaction, plus its prompt.
Stems and choices that are plain paragraphs become ``text`` items; anything
richer (emphasis, tables, images) an ``html`` item, sanitised by
:mod:`item_bank.html`, its images stored in the bank. Subtest, content area,
status, version and IRT parameters come from Seleksi's metadata in the
manifest (packages Seleksi wrote) or from a mapping file (any package).

A package is untrusted input: it is read in memory with limits on its size,
its number of files, each file's size and the compression ratio (zip
bombs), member names that leave the package (``../``, absolute paths) refuse
it, and XML goes through :func:`item_bank.qti_xml.parse_xml` (no DTD, no
entities, no network). Every fault is a :class:`Problem`: by row (the
item's position among the manifest's item resources, from 1) when it
concerns one item, row 0 for the package as a whole.
"""

from __future__ import annotations

import csv
import io
import posixpath
import re
import zipfile
import zlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import unquote, urlsplit

from lxml import etree
from lxml import html as lxml_html

from item_bank.html import ALLOWED_TAGS, image_sources, media_href, sniff_image_type
from item_bank.markdown import normalise_text
from item_bank.parsed import ParsedFile
from item_bank.qti_xml import (
    CP_NS,
    QTI_VERSION_OF_NS,
    SELEKSI_NS,
    XML_NS,
    UnsafeXmlError,
    attr,
    local_name,
    name_of,
    namespace,
    parse_xml,
)
from item_bank.records import (
    OPTION_LETTERS,
    ContentAreaSpec,
    MediaFile,
    Problem,
    ScoringMode,
    StemFormat,
    SubtestSpec,
)

# Limits for one package. A real bank of a few thousand items with pictures
# is tens of megabytes; anything beyond these is refused, not read.
MAX_PACKAGE_BYTES = 256 * 1024 * 1024
MAX_MEMBERS = 20_000
MAX_MEMBER_BYTES = 32 * 1024 * 1024
MAX_TOTAL_BYTES = 512 * 1024 * 1024
# Text and images compress by 2–10×; a ratio beyond this on a member of some
# size is a zip bomb (42.zip: ~10^6×).
MAX_RATIO = 200
RATIO_CHECKED_FROM = 1024 * 1024

MANIFEST = "imsmanifest.xml"
# Only plain text and these block wrappers make a text item; anything else html.
_TEXT_BLOCKS = frozenset({"p", "div", "pre"})
_TEXT_INLINE = frozenset({"span", "br"})
# XHTML the importer accepts in an item's text: what the bank keeps
# (item_bank.html.ALLOWED_TAGS) and what it unwraps to its text.
_XHTML_ALLOWED_IN_HTML = ALLOWED_TAGS | frozenset(
    {
        "small",
        "big",
        "tt",
        "abbr",
        "acronym",
        "cite",
        "dfn",
        "kbd",
        "q",
        "samp",
        "var",
        "address",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "dl",
        "dt",
        "dd",
        "col",
        "colgroup",
        "label",
        "u",
        "s",
        "mark",
        "bdo",
        "bdi",
        "ruby",
        "rt",
        "rp",
        "figure",
        "figcaption",
        "section",
        "article",
        "aside",
        "header",
        "footer",
        "nav",
    }
)
# Shown only after an answer or to scorers: Seleksi shows no feedback, so dropped.
_DROPPED = frozenset(
    {"feedbackBlock", "feedbackInline", "modalFeedback", "rubricBlock", "stylesheet"}
)
_MEDIA_ELEMENTS = frozenset({"object", "audio", "video", "embed", "iframe", "source", "track"})
_WS = re.compile(r"[ \t\r\n]+")
STEM_WRAPPER_CLASS = "seleksi-stem"


@dataclass(frozen=True)
class Placement:
    """Where an item goes in the bank, from a mapping file (see :func:`read_mapping`)."""

    subtest: str
    content_area: str
    status: str | None = None


def read_mapping(text: str) -> tuple[dict[str, Placement], list[Problem]]:
    """A mapping file: CSV with columns ``id, subtest, content_area`` (and optional ``status``).

    The id ``*`` gives the placement of every item the file does not name.
    Rows are numbered as a spreadsheet shows them.
    """
    problems: list[Problem] = []
    out: dict[str, Placement] = {}
    if text.startswith("\ufeff"):
        text = text[1:]
    first = text.split("\n", 1)[0]
    delimiter = ";" if first.count(";") > first.count(",") else ","
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        return {}, [Problem(0, "mapping", f"unreadable CSV: {exc}")]
    if not rows:
        return {}, [Problem(0, "mapping", "the mapping file is empty")]
    header = [h.strip().lower() for h in rows[0]]
    for col in ("id", "subtest", "content_area"):
        if col not in header:
            problems.append(Problem(1, f"mapping.{col}", "required column is missing"))
    unknown = [h for h in header if h not in ("id", "subtest", "content_area", "status")]
    for col in unknown:
        problems.append(Problem(1, f"mapping.{col or '(blank)'}", "unknown column"))
    if problems:
        return {}, problems
    at = {h: i for i, h in enumerate(header)}
    for n, cells in enumerate(rows[1:], start=2):
        if not any(c.strip() for c in cells):
            continue

        def cell(col: str, _cells: list[str] = cells) -> str:
            i = at.get(col)
            return _cells[i].strip() if i is not None and i < len(_cells) else ""

        item_id = cell("id")
        if not item_id or not cell("subtest") or not cell("content_area"):
            problems.append(Problem(n, "mapping", "id, subtest and content_area are required"))
            continue
        if item_id in out:
            problems.append(Problem(n, "mapping.id", f"{item_id} is mapped twice"))
            continue
        out[item_id] = Placement(cell("subtest"), cell("content_area"), cell("status") or None)
    return out, problems


# ---------------------------------------------------------------------------
# Packages
# ---------------------------------------------------------------------------


class PackageError(ValueError):
    """The package as a whole is refused (message says why); nothing is read from it."""


def _safe_member_name(name: str) -> bool:
    if not name or "\x00" in name or "\\" in name or name.startswith("/"):
        return False
    if re.match(r"^[A-Za-z]:", name):
        return False
    return ".." not in name.split("/")


class _Package:
    """A zip opened with the limits above; members are read whole, each at most once."""

    def __init__(self, data: bytes) -> None:
        if len(data) > MAX_PACKAGE_BYTES:
            raise PackageError(f"the package is larger than {MAX_PACKAGE_BYTES // 2**20} MB")
        try:
            self.zip = zipfile.ZipFile(io.BytesIO(data))
            infos = self.zip.infolist()
        except (
            zipfile.BadZipFile,
            OSError,
            ValueError,
            EOFError,
            NotImplementedError,
            zlib.error,
        ) as exc:
            raise PackageError(f"not a readable zip file ({exc})") from exc
        if len(infos) > MAX_MEMBERS:
            raise PackageError(f"{len(infos)} files; a package may hold {MAX_MEMBERS}")
        total = 0
        self.members: dict[str, zipfile.ZipInfo] = {}
        for info in infos:
            if not _safe_member_name(info.filename):
                raise PackageError(
                    f"member {info.filename[:120]!r} points outside the package (absolute path "
                    "or '..'); the package is refused"
                )
            if info.flag_bits & 0x1:
                raise PackageError(f"member {info.filename!r} is encrypted")
            if info.file_size > MAX_MEMBER_BYTES:
                raise PackageError(
                    f"member {info.filename!r} unpacks to {info.file_size} bytes; at most "
                    f"{MAX_MEMBER_BYTES // 2**20} MB per file"
                )
            if info.file_size > RATIO_CHECKED_FROM and info.file_size > MAX_RATIO * max(
                info.compress_size, 1
            ):
                ratio = info.file_size // max(info.compress_size, 1)
                raise PackageError(
                    f"member {info.filename!r} is compressed {ratio}× (a zip bomb?); "
                    f"at most {MAX_RATIO}×"
                )
            total += info.file_size
            if total > MAX_TOTAL_BYTES:
                raise PackageError(
                    f"the package unpacks to more than {MAX_TOTAL_BYTES // 2**20} MB"
                )
            if not info.is_dir():
                self.members[info.filename] = info
        self._unpacked = 0

    def read(self, name: str) -> bytes:
        """A member's bytes, read no further than its limit (the header may lie)."""
        info = self.members[name]
        chunks: list[bytes] = []
        size = 0
        try:
            with self.zip.open(info) as stream:
                while True:
                    chunk = stream.read(65536)
                    if not chunk:
                        break
                    size += len(chunk)
                    self._unpacked += len(chunk)
                    if size > MAX_MEMBER_BYTES or self._unpacked > MAX_TOTAL_BYTES:
                        raise PackageError(
                            f"member {name!r} unpacks to more than its header says (a zip bomb?)"
                        )
                    chunks.append(chunk)
        except (
            zipfile.BadZipFile,
            OSError,
            EOFError,
            ValueError,
            NotImplementedError,
            zlib.error,
        ) as exc:
            # zlib.error: a damaged deflate stream (found by the property test);
            # NotImplementedError: a compression method zipfile does not know.
            if isinstance(exc, PackageError):
                raise
            raise PackageError(f"member {name!r} cannot be unpacked ({exc})") from exc
        return b"".join(chunks)


def _resolve(base_file: str, href: str) -> str | None:
    """A package path for ``href`` relative to ``base_file``; None if it leaves the package."""
    parts = urlsplit(href)
    if parts.scheme or parts.netloc or href.startswith("/"):
        return None
    path = unquote(parts.path)
    joined = posixpath.normpath(posixpath.join(posixpath.dirname(base_file), path))
    if joined.startswith("../") or joined == ".." or joined.startswith("/"):
        return None
    return joined


# ---------------------------------------------------------------------------
# Entry point
# ---------------------------------------------------------------------------


def parse_qti(
    data: bytes, *, name: str = "package", mapping: Mapping[str, Placement] | None = None
) -> ParsedFile:
    """Read a QTI content package (zip) or a single item file (XML) into a :class:`ParsedFile`.

    ``mapping`` places items by id (``*``: every other item) in a subtest
    and content area; an item with Seleksi metadata keeps its own placement.
    """
    parsed = ParsedFile()
    reader = _Reader(parsed, mapping or {}, name)
    try:
        if data[:4] == b"PK\x03\x04" or data[:4] == b"PK\x05\x06":
            reader.read_package(_Package(data))
        else:
            reader.read_single(data)
    except PackageError as exc:
        parsed.raw_items.clear()
        parsed.media.clear()
        parsed.problems.append(Problem(0, "package", str(exc)))
    except UnsafeXmlError as exc:
        parsed.raw_items.clear()
        parsed.media.clear()
        parsed.problems.append(Problem(0, "package", str(exc)))
    parsed.finish = reader.finish
    return parsed


@dataclass
class _Candidate:
    """What an item offers for scoring before its subtest is known."""

    raw: dict[str, object]
    key: str | None  # option letter from correctResponse
    points: list[str] | None  # from mapping, one per option
    row: int
    item_id: str


@dataclass
class _Reader:
    parsed: ParsedFile
    mapping: Mapping[str, Placement]
    name: str
    candidates: list[_Candidate] = field(default_factory=list)

    # -- package level -------------------------------------------------------

    def read_package(self, pkg: _Package) -> None:
        if MANIFEST not in pkg.members:
            nested = [m for m in pkg.members if m.endswith("/" + MANIFEST)]
            hint = (
                f" (found {nested[0]!r}: zip the folder's contents, not the folder)"
                if nested
                else ""
            )
            raise PackageError(f"no {MANIFEST} at the top of the package{hint}")
        manifest = parse_xml(pkg.read(MANIFEST), MANIFEST)
        if local_name(manifest) != "manifest" or namespace(manifest) not in set(CP_NS.values()):
            raise PackageError(
                f"{MANIFEST} is not an IMS content package manifest (root "
                f"{manifest.tag!s}); expected QTI 2.1, 2.2 or 3.0"
            )
        self._read_subtests(manifest)
        cp = namespace(manifest)
        resources = manifest.findall(f"{{{cp}}}resources/{{{cp}}}resource")
        items = [r for r in resources if (r.get("type") or "").startswith("imsqti_item_xml")]
        if not items:
            types = sorted({r.get("type") or "?" for r in resources})
            raise PackageError(
                "the package holds no items (resources of type imsqti_item_xml…)"
                + (f"; it has: {', '.join(types)}" if types else "")
            )
        for row, res in enumerate(items, start=1):
            rid = res.get("identifier") or f"resource {row}"
            href = res.get("href")
            if href is None:
                files = res.findall(f"{{{cp}}}file")
                href = files[0].get("href") if files else None
            path = _resolve(MANIFEST, href) if href else None
            if path is None:
                self._fail(row, "href", f"resource {rid} has no item file inside the package", rid)
                continue
            if path not in pkg.members:
                self._fail(
                    row, "href", f"{path} is listed in the manifest but not in the package", rid
                )
                continue
            try:
                root = parse_xml(pkg.read(path), path)
            except UnsafeXmlError as exc:
                raise PackageError(str(exc)) from exc
            meta = res.find(f"{{{cp}}}metadata")
            seleksi = next(meta.iter(f"{{{SELEKSI_NS}}}item"), None) if meta is not None else None
            self._read_item(root, row, path, pkg, seleksi)

    def read_single(self, data: bytes) -> None:
        root = parse_xml(data, self.name)
        self._read_item(root, 1, self.name, None, None)

    def _read_subtests(self, manifest: etree._Element) -> None:
        for i, el in enumerate(manifest.iter(f"{{{SELEKSI_NS}}}subtest")):
            try:
                scoring = ScoringMode(el.get("scoring", ""))
                spec = SubtestSpec(
                    code=el.get("code", ""),
                    name=el.get("name", ""),
                    scoring=scoring,
                    points_correct=float(el.get("points-correct", "5")),
                    min_points=int(el.get("min-points", "1")),
                    max_points=int(el.get("max-points", "5")),
                    content_areas=tuple(
                        ContentAreaSpec(a.get("code", ""), a.get("name", ""))
                        for a in el.iter(f"{{{SELEKSI_NS}}}content-area")
                    ),
                )
            except ValueError as exc:
                self.parsed.problems.append(Problem(0, f"subtests[{i}]", f"unreadable ({exc})"))
                continue
            self.parsed.subtests.append((i, spec))

    def _fail(self, row: int, name: str, message: str, item_id: str | None) -> None:
        self.parsed.problems.append(Problem(row, name, message, item_id))

    # -- one item ------------------------------------------------------------

    def _read_item(
        self,
        root: etree._Element,
        row: int,
        path: str,
        pkg: _Package | None,
        seleksi: etree._Element | None,
    ) -> None:
        version = QTI_VERSION_OF_NS.get(namespace(root))
        qti_id = attr(root, "identifier") or None
        item_id = (seleksi.get("id") if seleksi is not None else None) or qti_id or f"row-{row}"
        if version is None or name_of(root) != "assessmentItem":
            self._fail(
                row,
                "item",
                f"{path} is not a QTI 2.1, 2.2 or 3.0 assessment item (root {root.tag!s})",
                item_id,
            )
            return
        fails: list[tuple[str, str]] = []
        for el in root.iter():
            n = name_of(el)
            if n in ("templateDeclaration", "templateProcessing"):
                fails.append(("template", "template (cloned) items are not supported"))
                break
        if (attr(root, "adaptive") or "false") == "true":
            fails.append(("adaptive", "adaptive items (several attempts) are not supported"))
        body = next((c for c in root if name_of(c) == "itemBody"), None)
        if body is None:
            self._fail(row, "itemBody", "the item has no body", item_id)
            return
        interactions = [
            el
            for el in body.iter()
            if isinstance(el.tag, str) and name_of(el).endswith("Interaction")
        ]
        if not interactions:
            fails.append(
                ("interaction", "no interaction; a Seleksi item is one multiple-choice question")
            )
        elif len(interactions) > 1:
            names = ", ".join(sorted({name_of(i) for i in interactions}))
            fails.append(
                (
                    "interaction",
                    f"{len(interactions)} interactions ({names}); a Seleksi item is one "
                    "multiple-choice question",
                )
            )
        elif name_of(interactions[0]) != "choiceInteraction":
            fails.append(
                (
                    "interaction",
                    f"{name_of(interactions[0])} is not delivered by Seleksi "
                    "(only choiceInteraction)",
                )
            )
        if fails:
            for where, message in fails:
                self._fail(row, where, message, item_id)
            return
        interaction = interactions[0]
        max_choices = attr(interaction, "maxChoices") or "1"
        if max_choices != "1":
            self._fail(
                row,
                "choiceInteraction.maxChoices",
                f"maxChoices={max_choices}: a candidate chooses exactly one option in Seleksi",
                item_id,
            )
            return
        choices = [c for c in interaction if name_of(c) == "simpleChoice"]
        response_id = attr(interaction, "responseIdentifier") or "RESPONSE"
        declaration = next(
            (
                d
                for d in root
                if name_of(d) == "responseDeclaration" and attr(d, "identifier") == response_id
            ),
            None,
        )
        letters = {
            attr(c, "identifier") or f"#{k}": OPTION_LETTERS[k]
            for k, c in enumerate(choices)
            if k < len(OPTION_LETTERS)
        }
        key, points, scoring_fails = _scoring(declaration, choices, letters)
        for where, message in scoring_fails:
            self._fail(row, where, message, item_id)
        if scoring_fails:
            return

        # The stem: the body without the interaction (its prompt stays in its place).
        body_copy = _copy(body)
        target = next(
            el
            for el in body_copy.iter()
            if isinstance(el.tag, str) and name_of(el) == "choiceInteraction"
        )
        prompt = next((c for c in target if name_of(c) == "prompt"), None)
        if prompt is None:
            _remove_keep_tail(target)
        else:
            holder = etree.Element(f"{{{namespace(target)}}}div")
            holder.text = prompt.text
            for c in list(prompt):
                holder.append(c)
            holder.tail = target.tail
            parent = target.getparent()
            assert parent is not None  # the interaction is inside the body
            parent.replace(target, holder)
        for el in list(body_copy.iter()):
            if isinstance(el.tag, str) and name_of(el) in _DROPPED and el.getparent() is not None:
                _remove_keep_tail(el)
        option_nodes = [_copy(c) for c in choices]

        problems_before = len(self.parsed.problems)
        for where, node in [
            ("stem", body_copy),
            *((f"options[{k}]", n) for k, n in enumerate(option_nodes)),
        ]:
            for el in node.iter():
                if el is node or not isinstance(el.tag, str):
                    continue
                if any(name_of(a) == "math" for a in el.iterancestors()):
                    continue  # reported once, at the math element
                n = name_of(el)
                if n in _MEDIA_ELEMENTS:
                    self._fail(
                        row,
                        where,
                        f"<{n}> (audio, video, embedded objects) is not delivered",
                        item_id,
                    )
                elif n == "math":
                    self._fail(row, where, "MathML is not shown by Seleksi terminals", item_id)
                elif n not in _XHTML_ALLOWED_IN_HTML and n not in _DROPPED:
                    self._fail(
                        row,
                        where,
                        f"<{local_name(el)}> is not supported in an item's text",
                        item_id,
                    )
        if len(self.parsed.problems) > problems_before:
            return

        declared_format = seleksi.get("stem-format") if seleksi is not None else None
        rich = any(_is_rich(n) for n in [body_copy, *option_nodes])
        stem_format = declared_format or (StemFormat.HTML.value if rich else StemFormat.TEXT.value)
        if stem_format == StemFormat.HTML.value:
            stem_root = _unwrap_stem(body_copy)
            ok = True
            for where, node in [
                ("stem", stem_root),
                *((f"options[{k}]", n) for k, n in enumerate(option_nodes)),
            ]:
                ok = self._store_images(node, row, where, item_id, path, pkg) and ok
            if not ok:
                return
            stem = _html_content(stem_root)
            options: list[str] = [_html_content(n) for n in option_nodes]
        else:
            stem = text_content(body_copy)
            options = [text_content(n) for n in option_nodes]

        raw: dict[str, object] = {
            "id": item_id,
            "stem": stem,
            "stem_format": stem_format,
            "options": options,
        }
        if seleksi is not None:
            _seleksi_fields(seleksi, raw)
        else:
            placement = self.mapping.get(item_id) or self.mapping.get("*")
            if placement is not None:
                raw["subtest"] = placement.subtest
                raw["content_area"] = placement.content_area
                raw["status"] = placement.status
            raw["source"] = _provenance(root, self.name)
        self.parsed.raw_items.append((row, raw))
        self.candidates.append(_Candidate(raw, key, points, row, item_id))

    def _store_images(
        self,
        node: etree._Element,
        row: int,
        where: str,
        item_id: str,
        path: str,
        pkg: _Package | None,
    ) -> bool:
        ok = True
        for img in node.iter():
            if not isinstance(img.tag, str) or name_of(img) != "img":
                continue
            src = img.get("src") or ""
            target = _resolve(path, src) if src else None
            if target is None:
                self._fail(
                    row,
                    where,
                    f"image {src[:80]!r} is not in the package; terminals load nothing "
                    "from elsewhere",
                    item_id,
                )
                ok = False
                continue
            if pkg is None or target not in pkg.members:
                self._fail(row, where, f"image {target} is missing from the package", item_id)
                ok = False
                continue
            data = pkg.read(target)
            mime = sniff_image_type(data)
            if mime is None:
                self._fail(
                    row,
                    where,
                    f"{target} is not a PNG, JPEG, GIF or WebP image (SVG is not accepted)",
                    item_id,
                )
                ok = False
                continue
            digest, href = media_href(data, mime)
            self.parsed.media.setdefault(
                digest, MediaFile(digest, mime, data, posixpath.basename(target))
            )
            img.set("src", href)
        return ok

    def finish(self, subtests: Mapping[str, SubtestSpec]) -> None:
        """Key or points, by the scoring of each item's subtest (known only now)."""
        unplaced = [c for c in self.candidates if not c.raw.get("subtest")]
        if unplaced:
            self.parsed.problems.append(
                Problem(
                    0,
                    "mapping",
                    f"{len(unplaced)} item(s) have no subtest and content area (the package has "
                    "no Seleksi metadata for them): give a mapping file (--mapping, columns "
                    "id,subtest,content_area; the id * places every other item)",
                )
            )
        for cand in self.candidates:
            spec = subtests.get(str(cand.raw.get("subtest") or ""))
            if spec is None:
                continue
            if spec.scoring is ScoringMode.DICHOTOMOUS:
                if cand.key is None:
                    self.parsed.problems.append(
                        Problem(
                            cand.row,
                            "correctResponse",
                            f"no correct response; subtest {spec.code} needs a key",
                            cand.item_id,
                        )
                    )
                cand.raw["key"] = cand.key
            else:
                if cand.points is None:
                    self.parsed.problems.append(
                        Problem(
                            cand.row,
                            "mapping",
                            f"no mapping of option points; subtest {spec.code} scores every option",
                            cand.item_id,
                        )
                    )
                cand.raw["points"] = cand.points


def _scoring(
    declaration: etree._Element | None,
    choices: list[etree._Element],
    letters: Mapping[str, str],
) -> tuple[str | None, list[str] | None, list[tuple[str, str]]]:
    """(key letter, points per option, problems) from a response declaration."""
    if declaration is None:
        return None, None, [("responseDeclaration", "the interaction's response is not declared")]
    fails: list[tuple[str, str]] = []
    cardinality = attr(declaration, "cardinality") or "single"
    if cardinality != "single":
        fails.append(
            ("responseDeclaration", f"cardinality {cardinality}; Seleksi takes one answer")
        )
    key: str | None = None
    correct = next((c for c in declaration if name_of(c) == "correctResponse"), None)
    if correct is not None:
        values = [(v.text or "").strip() for v in correct if name_of(v) == "value"]
        if len(values) > 1:
            fails.append(
                ("correctResponse", f"{len(values)} correct responses; an item has one key")
            )
        elif values:
            key = letters.get(values[0])
            if key is None:
                fails.append(
                    (
                        "correctResponse",
                        f"the correct response {values[0]!r} is not one of the choices",
                    )
                )
    points: list[str] | None = None
    mapping = next((c for c in declaration if name_of(c) == "mapping"), None)
    if mapping is not None:
        default = attr(mapping, "defaultValue") or "0"
        by_choice = {
            (attr(e, "mapKey") or ""): (attr(e, "mappedValue") or "")
            for e in mapping
            if name_of(e) == "mapEntry"
        }
        unknown = sorted(set(by_choice) - set(letters))
        if unknown:
            fails.append(("mapping", f"points for {', '.join(unknown)}, which is not a choice"))
        points = [_whole(by_choice.get(attr(c, "identifier") or "", default)) for c in choices]
    if key is None and points is not None:
        # A dichotomous item written as a mapping only: the one option worth most.
        worth = [_number(p) for p in points]
        top = max((v for v in worth if v is not None), default=None)
        if top is not None and top > 0 and worth.count(top) == 1:
            key = OPTION_LETTERS[worth.index(top)]
    return key, points, fails


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _whole(text: str) -> str:
    """'4.0' → '4' (QTI maps to floats; Seleksi points are whole and checked as such)."""
    num = _number(text.strip())
    return str(int(num)) if num is not None and num.is_integer() else text.strip()


def _seleksi_fields(el: etree._Element, raw: dict[str, object]) -> None:
    for name, key in (
        ("subtest", "subtest"),
        ("content-area", "content_area"),
        ("status", "status"),
        ("version", "version"),
        ("enemy-group", "enemy_group"),
        ("source", "source"),
    ):
        raw[key] = el.get(name)
    irt = el.find(f"{{{SELEKSI_NS}}}irt")
    if irt is not None:
        out: dict[str, object] = {}
        for name in (
            "model",
            "a",
            "b",
            "c",
            "d",
            "se-a",
            "se-b",
            "se-c",
            "se-d",
            "sample-size",
            "scale",
            "run",
            "calibrated-at",
        ):
            out[name.replace("-", "_")] = irt.get(name)
        for name in ("thresholds", "se-thresholds"):
            value = irt.get(name)
            out[name.replace("-", "_")] = (
                [None if v == "-" else v for v in value.split()] if value is not None else None
            )
        raw["irt"] = out


def _provenance(root: etree._Element, package: str) -> str:
    """The source of an item from another tool: its title, language and tool."""
    title = normalise_text(attr(root, "title") or "")
    lang = root.get(f"{{{XML_NS}}}lang") or attr(root, "language") or ""
    tool = " ".join(x for x in (attr(root, "toolName"), attr(root, "toolVersion")) if x)
    parts = [f"QTI {package}"]
    if tool:
        parts.append(tool)
    described = f"{title} ({lang})" if lang and title else title or lang
    if described:
        parts.append(described)
    return ": ".join(parts)[:1000]


# ---------------------------------------------------------------------------
# Text and HTML content of XHTML nodes
# ---------------------------------------------------------------------------


def _copy(el: etree._Element) -> etree._Element:
    out = etree.fromstring(etree.tostring(el, with_tail=False))
    return out


def _remove_keep_tail(el: etree._Element) -> None:
    parent = el.getparent()
    if parent is None:
        return
    tail = el.tail or ""
    prev = el.getprevious()
    if prev is not None:
        prev.tail = (prev.tail or "") + tail
    else:
        parent.text = (parent.text or "") + tail
    parent.remove(el)


def _is_rich(node: etree._Element) -> bool:
    """True if a node holds markup beyond paragraphs and line breaks."""
    for el in node.iter():
        if el is node or not isinstance(el.tag, str):
            continue
        n = name_of(el)
        if n in _TEXT_BLOCKS or n in _TEXT_INLINE or n in _DROPPED:
            continue
        return True
    return False


def text_content(node: etree._Element) -> str:
    """Plain text of a node's content: paragraphs apart by a blank line, ``br`` a line end.

    Whitespace is collapsed as a browser shows it, except inside ``pre``,
    whose text is kept exactly (Seleksi writes text that would not survive
    collapsing in ``pre``).
    """
    blocks: list[str] = []
    line: list[str] = []

    def flush() -> None:
        text = "".join(line)
        line.clear()
        text = "\n".join(part.strip(" ") for part in text.split("\n")).strip()
        if text:
            blocks.append(text)

    def inline_text(text: str | None) -> None:
        if text:
            line.append(_WS.sub(" ", text))

    def walk(el: etree._Element) -> None:
        inline_text(el.text)
        for child in el:
            if not isinstance(child.tag, str):
                inline_text(child.tail)
                continue
            n = name_of(child)
            if n == "br":
                line.append("\n")
            elif n == "pre":
                flush()
                exact = "".join(child.itertext())
                if exact.strip():
                    blocks.append(normalise_text(exact))
            elif n in _TEXT_BLOCKS:
                flush()
                walk(child)
                flush()
            else:
                walk(child)
            inline_text(child.tail)

    walk(node)
    flush()
    return "\n\n".join(blocks)


def _unwrap_stem(body: etree._Element) -> etree._Element:
    """The body, or Seleksi's stem wrapper in it (``div class="seleksi-stem"``)."""
    kids = [c for c in body if isinstance(c.tag, str)]
    if (
        len(kids) == 1
        and name_of(kids[0]) == "div"
        and kids[0].get("class") == STEM_WRAPPER_CLASS
        and not (body.text or "").strip()
        and not (kids[0].tail or "").strip()
    ):
        return kids[0]
    return body


def _html_content(node: etree._Element) -> str:
    """A node's content (text and children) as an HTML fragment, namespaces removed."""
    copy = _copy(node)
    for el in copy.iter():
        if isinstance(el.tag, str):
            el.tag = local_name(el)
            for key in list(el.attrib):
                if key.startswith("{"):
                    del el.attrib[key]
    etree.cleanup_namespaces(copy)
    parts = [_escape(copy.text or "")]
    for child in copy:
        parts.append(etree.tostring(child, method="html", encoding="unicode", with_tail=False))
        parts.append(_escape(child.tail or ""))
    return "".join(parts)


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def html_fragments(fragment: str) -> list[str | lxml_html.HtmlElement]:
    """A stored HTML fragment as lxml nodes (text pieces and elements)."""
    return list(lxml_html.fragments_fromstring(fragment)) if fragment.strip() else []


__all__ = [
    "MAX_MEMBER_BYTES",
    "MAX_RATIO",
    "PackageError",
    "Placement",
    "html_fragments",
    "image_sources",
    "parse_qti",
    "read_mapping",
    "text_content",
]
