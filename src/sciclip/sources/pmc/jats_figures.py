"""Figures of a JATS article (PubMed Central): graphics, captions, labels, language, article metadata.

Parsing is for hostile input: no entity substitution (an XXE entity stays an unexpanded reference and
a billion-laughs document never expands), no DTD loading, no network, no huge trees, a size cap.

Caption = label + title + paragraphs, joined with single spaces, markup and inline formulas flattened to
text (MathML preferred over TeX where both are given). A ``<fig>`` inside a ``<fig-group>`` with a
caption of its own is a sub-figure: its caption is combined with the group's the same way arXiv
subcaptions are. Each ``<graphic>`` of a figure is one image; ``<alternatives>`` offer several files for
one image (the largest raster wins when files are at hand).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from lxml import etree

from sciclip.errors import Skip
from sciclip.text.captions import normalise_space
from sciclip.text.latex import latex_to_text

XLINK = "http://www.w3.org/1999/xlink"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
MAX_XML_BYTES = 64 << 20


@dataclass
class JatsFigure:
    figure_id: str
    label: str
    fig_type: str
    caption_text: str  # label + title + paragraphs
    caption_xml: str
    group_caption_text: str | None  # the enclosing fig-group's caption, when it has one
    group_caption_xml: str | None
    graphics: list[list[str]]  # one entry per image; several hrefs when given as <alternatives>
    lang: str | None
    in_sub_article: bool = False
    group_id: str | None = None
    caption_body: str = ""  # title + paragraphs, without the label
    group_caption_body: str | None = None


@dataclass
class JatsArticle:
    pmcid: str | None = None
    pmid: str | None = None
    doi: str | None = None
    license: str | None = None
    article_type: str | None = None
    lang: str | None = None
    figures: list[JatsFigure] = field(default_factory=list)


def secure_parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
                           huge_tree=False, remove_comments=True, remove_pis=True, recover=False)


def local(el) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def _attr(el, name: str) -> str | None:
    for key, value in el.attrib.items():
        if key == name or key.endswith("}" + name):
            return value
    return None


def href_of(el) -> str | None:
    return el.get(f"{{{XLINK}}}href") or el.get("href")


# Elements whose text is not caption prose.
_SKIP_TEXT = {"object-id", "graphic", "inline-graphic", "fn", "label-skip", "ext-link-skip", "media"}


def tex_text(tex: str) -> str:
    """A <tex-math> formula as text; JATS often omits the math delimiters."""
    tex = tex.strip()
    if tex.startswith(("\\documentclass", "\\begin{document}")):
        tex = tex.split("\\begin{document}", 1)[-1].split("\\end{document}", 1)[0]
    if "$" not in tex and not tex.startswith(("\\(", "\\[")):
        tex = f"${tex}$"
    return latex_to_text(tex)


def flat_text(el) -> str:
    """Text of an element with markup flattened; formulas as MathML text, or TeX converted."""
    out: list[str] = []

    def walk(node) -> None:
        if not isinstance(node.tag, str):  # comments, PIs, unexpanded entity references
            if node.tail:
                out.append(node.tail)
            return
        name = local(node)
        if name in _SKIP_TEXT:
            pass
        elif name == "alternatives":
            kids = [k for k in node if isinstance(k.tag, str)]
            mml = [k for k in kids if local(k) == "math"]
            tex = [k for k in kids if local(k) == "tex-math"]
            if mml:
                walk_inner(mml[0])
            elif tex:
                out.append(tex_text("".join(tex[0].itertext())))
            elif kids:
                walk_inner(kids[0])
        elif name == "tex-math":
            out.append(tex_text("".join(node.itertext())))
        else:
            walk_inner(node)
            if name in ("p", "title", "list-item", "disp-formula"):
                out.append(" ")
        if node.tail:
            out.append(node.tail)

    def walk_inner(node) -> None:
        if node.text:
            out.append(node.text)
        for child in node:
            walk(child)

    walk_inner(el)
    return normalise_space("".join(out))


def caption_parts(fig) -> tuple[str, str, str]:
    """(label, text, raw caption XML) of a fig or fig-group."""
    label_el = next((c for c in fig if local(c) == "label"), None)
    label = flat_text(label_el) if label_el is not None else ""
    cap = next((c for c in fig if local(c) == "caption"), None)
    if cap is None:
        return label, "", ""
    pieces = [flat_text(c) for c in cap if local(c) in ("title", "p")]
    if cap.text and cap.text.strip():
        pieces.insert(0, normalise_space(cap.text))
    raw = etree.tostring(cap, encoding="unicode", with_tail=False)
    return label, normalise_space(" ".join(p for p in pieces if p)), raw


def _lang(el) -> str | None:
    while el is not None:
        value = el.get(XML_LANG) or el.get("lang")
        if value:
            return value.strip().lower()
        el = el.getparent()
    return None


def _graphics(fig) -> list[list[str]]:
    out = []
    for child in fig:
        name = local(child)
        if name == "graphic":
            h = href_of(child)
            if h:
                out.append([h])
        elif name == "alternatives":
            hrefs = [href_of(g) for g in child if local(g) == "graphic" and href_of(g)]
            if hrefs:
                out.append(hrefs)  # type: ignore[arg-type]
    return out


_LICENSES = [
    (r"publicdomain/zero|\bcc0\b", "CC0"),
    (r"by-nc-sa", "CC BY-NC-SA"), (r"by-nc-nd", "CC BY-NC-ND"), (r"by-nc", "CC BY-NC"),
    (r"by-sa", "CC BY-SA"), (r"by-nd", "CC BY-ND"), (r"licenses/by/|\bcc[ -]by\b", "CC BY"),
]


def license_code(text: str) -> str | None:
    """A Creative Commons code from a license URL or statement (fallback when no metadata JSON exists)."""
    t = text.lower()
    for pattern, code in _LICENSES:
        if re.search(pattern, t):
            return code
    return None


def parse_root(data: bytes, origin: str = "article"):
    """The article's XML root, parsed securely (no entities, DTDs or network); unusable XML is a Skip."""
    if len(data) > MAX_XML_BYTES:
        raise Skip("xml_too_large", f"{len(data)} bytes")
    try:
        root = etree.fromstring(data, parser=secure_parser())
    except etree.XMLSyntaxError as e:
        raise Skip("malformed_xml", f"{origin}: {e}") from None
    if root is None:
        raise Skip("malformed_xml", f"{origin}: empty document")
    return root


def parse_jats(data: bytes, origin: str = "article") -> JatsArticle:
    root = parse_root(data, origin)
    art = JatsArticle(article_type=root.get("article-type"), lang=_lang(root))
    meta = next((el for el in root.iter() if local(el) == "article-meta"), None)
    if meta is not None:
        for aid in meta.iter():
            if local(aid) != "article-id":
                continue
            kind = (aid.get("pub-id-type") or "").lower()
            value = normalise_space("".join(aid.itertext()))
            if kind in ("pmc", "pmcid") and not art.pmcid:
                art.pmcid = value if value.upper().startswith("PMC") else f"PMC{value}"
            elif kind == "pmid" and not art.pmid:
                art.pmid = value
            elif kind == "doi" and not art.doi:
                art.doi = value
        lic = next((el for el in meta.iter() if local(el) == "license"), None)
        if lic is not None:
            art.license = license_code(" ".join(filter(None, [href_of(lic) or "", lic.get("license-type") or "",
                                                              " ".join(lic.itertext())])))
    for fig in root.iter():
        if local(fig) != "fig":
            continue
        label, text, raw = caption_parts(fig)
        parent = fig.getparent()
        group_text = group_raw = group_id = group_body = None
        if parent is not None and local(parent) == "fig-group":
            g_label, g_text, g_raw = caption_parts(parent)
            group_id = parent.get("id") or parent.getroottree().getpath(parent)  # eLife groups have no id
            if g_text:
                group_text = normalise_space(f"{g_label} {g_text}")
                group_body = normalise_space(g_text)
                group_raw = g_raw
        in_sub = any(local(a) == "sub-article" for a in fig.iterancestors())
        art.figures.append(JatsFigure(
            figure_id=fig.get("id") or "",
            label=label,
            fig_type=fig.get("fig-type") or "",
            caption_text=normalise_space(f"{label} {text}") if text else "",
            caption_xml=raw,
            group_caption_text=group_text,
            group_caption_xml=group_raw,
            graphics=_graphics(fig),
            lang=_lang(next((c for c in fig if local(c) == "caption"), fig)),
            in_sub_article=in_sub,
            group_id=group_id,
            caption_body=normalise_space(text) if text else "",
            group_caption_body=group_body,
        ))
    return art


RASTER_PREFERENCE = (".jpg", ".jpeg", ".png", ".gif", ".tif", ".tiff")


def match_media(href: str, files: list[str]) -> str | None:
    """The media file an ``xlink:href`` points to, among ``files`` (names in the article folder).

    Exact name first (any case), then the same stem with a raster extension (hrefs without extension are
    common in older XML; preferring jpg, png, gif, tif), then PLOS-style ``info:doi/10.1371/journal.X``
    hrefs whose files are named ``X.<ext>``.
    """
    name = href.rsplit("/", 1)[-1].strip()
    if not name:
        return None
    by_lower: dict[str, list[str]] = {}
    for f in files:
        by_lower.setdefault(f.rsplit("/", 1)[-1].lower(), []).append(f)
    lower = name.lower()
    if lower in by_lower:
        return sorted(by_lower[lower])[0]
    stems = [lower]
    if "." in lower and lower.rsplit(".", 1)[1] in ("jpg", "jpeg", "png", "gif", "tif", "tiff", "eps", "pdf"):
        stems.append(lower.rsplit(".", 1)[0])
    if lower.startswith("journal."):
        stems.append(lower[len("journal."):])
    for stem in stems:
        for ext in RASTER_PREFERENCE:
            hit = by_lower.get(stem + ext)
            if hit:
                return sorted(hit)[0]
    return None
