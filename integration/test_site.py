"""The documentation site, built: what a reader sees, checked on the HTML mkdocs wrote.

CI's `docs` tox env builds the site (`mkdocs build --strict`) and runs this file against it
(``TINYTORCH_SITE_DIR``). Run alone, it builds the site itself into a temporary folder, which
takes about a minute; without mkdocs it fails and says what to install (it never skips: a site
that is not built is not checked). What it asserts:

* Tensor's API page documents the operations Tensor gets from its mixins;
* no page shows a literal ``` (a Markdown fence that did not render);
* no page loads a script or a stylesheet from outside the site (it works offline), and no
  page holds a mermaid diagram (its renderer would come from a CDN);
* the dependency graph is an SVG image whose every box links to an existing chapter, whose
  labels are at least 12 px, and whose arrows never pass behind a box;
* a training curve and a benchmark plot are PNG images drawn at build time;
* the sidebar has one entry per module, holding its lesson, reference and API page, and the
  chapters carry no load-average tables (those are on the maintainers' Measurements page).
"""
from __future__ import annotations

import importlib
import importlib.util
import os
import re
import struct
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    given = os.environ.get("TINYTORCH_SITE_DIR")
    if given:
        path = Path(given)
        if not (path / "index.html").is_file():
            pytest.fail(f"TINYTORCH_SITE_DIR={given} holds no built site (no index.html): "
                        "run `mkdocs build --strict --site-dir` there first")
        return path
    if importlib.util.find_spec("mkdocs") is None:
        pytest.fail("the site test needs mkdocs: pip install 'mkdocs>=1.6,<2' "
                    "'mkdocs-material>=9.5,<10' 'mkdocstrings[python]>=0.29' "
                    "'mkdocs-jupyter>=0.25' matplotlib (or run `.ci/tox -e docs`)")
    out = tmp_path_factory.mktemp("site")
    res = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir",
                          str(out)], cwd=REPO, capture_output=True, text=True)
    if res.returncode:
        pytest.fail(f"mkdocs build --strict failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return out


def pages(site: Path) -> list[Path]:
    found = sorted(site.rglob("*.html"))
    assert len(found) > 40, f"only {len(found)} pages in {site}"
    return found


class _Text(HTMLParser):
    """The text a reader sees: everything but scripts and styles."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self._hidden += 1

    def handle_endtag(self, tag):
        if tag in ("script", "style") and self._hidden:
            self._hidden -= 1

    def handle_data(self, data):
        if not self._hidden:
            self.parts.append(data)


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict]] = []
        self.scripts: list[str] = []  # inline script bodies
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False

    def handle_data(self, data):
        if self._in_script:
            self.scripts.append(data)


def _tags(path: Path) -> _Tags:
    parser = _Tags()
    parser.feed(path.read_text(encoding="utf-8"))
    return parser


def _outside(url: str | None) -> bool:
    return bool(url) and re.match(r"^([a-zA-Z][\w+.-]*:)?//", url) is not None


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", data[16:24])


def _images(site: Path, page: str) -> list[Path]:
    """The files the <img> tags of a page point to (resolved, relative to the page)."""
    html = site / page / "index.html"
    return [(html.parent / attrs["src"]).resolve() for tag, attrs in _tags(html).tags
            if tag == "img" and attrs.get("src") and not _outside(attrs["src"])]


# ----------------------------------------------------------------------------- API pages
def test_tensor_api_page_documents_the_mixin_operations(site):
    html = (site / "api" / "tensor" / "index.html").read_text(encoding="utf-8")
    for name in ("reshape", "sum", "softmax", "sliding_window", "permute", "matmul"):
        assert f'id="tinytorch.core.tensor.Tensor.{name}"' in html, f"Tensor.{name} is not on its API page"


def test_batchnorm_api_page_documents_what_it_inherits(site):
    html = (site / "api" / "spatial" / "index.html").read_text(encoding="utf-8")
    assert 'id="tinytorch.core.spatial.BatchNorm2d.forward"' in html


def test_no_page_shows_a_literal_code_fence(site):
    bad = []
    for path in pages(site):
        parser = _Text()
        parser.feed(path.read_text(encoding="utf-8"))
        text = "".join(parser.parts)
        for m in re.finditer("```", text):
            bad.append(f"{path.relative_to(site)}: …{text[max(0, m.start() - 60):m.end() + 20]!r}…")
    assert not bad, "literal ``` in rendered text:\n" + "\n".join(bad[:20])


# ----------------------------------------------------------------------------- offline
def test_no_page_loads_a_script_or_stylesheet_from_outside_the_site(site):
    bad = []
    for path in pages(site):
        parsed = _tags(path)
        rel = path.relative_to(site)
        for tag, attrs in parsed.tags:
            if tag == "script" and _outside(attrs.get("src")):
                bad.append(f"{rel}: <script src={attrs['src']}>")
            if tag == "link" and "stylesheet" in (attrs.get("rel") or "") and _outside(attrs.get("href")):
                bad.append(f"{rel}: stylesheet {attrs['href']}")
            if "mermaid" in (attrs.get("class") or "").split():
                bad.append(f"{rel}: a mermaid diagram (its renderer comes from a CDN)")
        for body in parsed.scripts:
            for m in re.finditer(r"""(import\s*\(|importScripts\s*\(|\.src\s*=)\s*["'](https?:)?//[^"']+""", body):
                bad.append(f"{rel}: inline script loads {m.group(0)}")
    assert not bad, "\n".join(bad[:20])


# ----------------------------------------------------------------------------- pictures
def _graph_svg(site: Path, page: str) -> str:
    html = (site / page / "index.html").read_text(encoding="utf-8")
    m = re.search(r'<svg[^>]*class="tt-depgraph"[^>]*>.*?</svg>', html, re.S)
    assert m, f"{page}: no dependency graph"
    return m.group(0)


@pytest.mark.parametrize("page", ["dependencies", "."])
def test_graph_is_an_image_whose_boxes_link_to_chapters(site, page):
    svg = _graph_svg(site, page)
    assert 'role="img"' in svg
    here = (site / page).resolve()
    links = re.findall(r'<a href="([^"]+)"', svg)
    assert sorted(Path(link).name for link in links) == sorted(f for _, f in _modules())
    for link in links:
        assert ((here / link) / "index.html").is_file(), f"{page}: graph link {link} leads nowhere"
    sizes = [float(s) for s in re.findall(r'font-size="([\d.]+)"', svg)]
    assert sizes and min(sizes) >= 12, f"labels of {min(sizes)} px"
    width = float(re.search(r'width="([\d.]+)"', svg).group(1))
    assert width <= 1000, f"the graph is {width} px wide: shrunk to a page, its labels get small"


def test_graph_file_is_an_svg(site):
    text = (site / "images" / "dependencies.svg").read_text(encoding="utf-8")
    assert text.startswith("<svg") and "tinytorch-tensor" in text


def test_training_curve_is_an_image(site):
    imgs = [p for p in _images(site, "modules/training") if p.name == "training-curve.png"]
    assert imgs, "the training chapter shows no training curve"
    width, height = _png_size(imgs[0])
    assert width >= 800 and height >= 300
    text = (site / "modules" / "training" / "index.html").read_text(encoding="utf-8")
    assert re.search(r"test images, \d+\.\d\d%", text), "the caption states no test accuracy"


def test_benchmark_plot_is_an_image(site):
    for page in ("modules/benchmarking", "modules/spatial", "modules/measurements"):
        imgs = [p for p in _images(site, page) if p.suffix == ".png" and "torch" in p.name]
        assert imgs, f"{page} shows no benchmark plot"
        for img in imgs:
            assert _png_size(img)[0] >= 800


# ----------------------------------------------------------------------------- navigation
def _modules() -> list:
    """(label, folder) of every module, from .ci/ttools (the repository's reader of packages/)."""
    sys.path.insert(0, str(REPO / ".ci"))
    from ttools import model
    return [(p.label, p.folder) for p in model.load_packages(REPO) if not p.is_meta]


def test_sidebar_has_one_entry_per_module_with_lesson_reference_and_api(site):
    html = (site / "index.html").read_text(encoding="utf-8")
    nav = html[html.index("md-nav--primary"):html.index('class="md-content"')]
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", nav))
    modules = _modules()
    assert len(modules) >= 17
    labels = [label for label, _ in modules]
    for label, folder in modules:
        for target in (f"modules/{folder}/", f"api/{folder}/"):
            assert nav.count(f'href="{target}"') == 1, f"{label}: {target} is not in the sidebar once"
            # under the module's own entry: the last module label before the link is its own
            before = re.sub(r"<[^>]+>", " ", nav[:nav.index(f'href="{target}"')])
            last = max(labels, key=lambda lb: before.rfind(lb))
            assert last == label, f"{target} sits under {last}, not {label}"
    assert "API reference" not in text
    hrefs = re.findall(r'<a href="([^"#]+)"\s+class="md-nav__link', nav)
    assert sorted({h for h in hrefs if hrefs.count(h) > 1}) == [], "pages twice in the sidebar"


def test_load_average_tables_are_on_the_measurements_page_not_in_chapters(site):
    def tables_with_load(path: Path) -> int:
        html = path.read_text(encoding="utf-8")
        return sum("load average" in t for t in re.findall(r"<table>.*?</table>", html, re.S))

    chapters = [p for p in (site / "modules").glob("*/index.html") if p.parent.name != "measurements"]
    assert [str(p.relative_to(site)) for p in chapters if tables_with_load(p)] == []
    assert tables_with_load(site / "modules" / "measurements" / "index.html") >= 1


# ----------------------------------------------------------------------------- the graph's drawing
def test_graph_arrows_never_pass_behind_a_box():
    """Sample every arrow of the SVG; no point may fall inside a box it does not start or end at."""
    sys.path.insert(0, str(REPO / "docs" / "hooks"))
    sys.path.insert(0, str(REPO / "packages" / "introduction" / "src"))
    depgraph = importlib.import_module("depgraph")
    intro = importlib.import_module("tinytorch.introduction")
    layout = importlib.import_module("tinytorch.introduction.render").layout
    graph = intro.from_repo(REPO, path=[])
    lay = layout(graph)
    svg = depgraph.dependency_svg(graph, lay, lambda folder: folder)
    boxes = [tuple(map(float, b)) for b in
             re.findall(r'<rect x="([\d.]+)" y="([\d.]+)" width="(\d+)" height="(\d+)"', svg)]
    paths = re.findall(r'<path d="(M [^"]+)"[^>]*><title>([^<]+)</title>', svg)
    assert len(boxes) == len(graph) and len(paths) == len(lay.edges)
    for d, title in paths:
        nums = [float(v) for v in re.findall(r"-?[\d.]+", d)]
        segments, pos, i = [], (nums[0], nums[1]), 2
        for op in re.findall(r"[CL]", d):
            if op == "C":
                segments.append((pos, *[(nums[i + k], nums[i + k + 1]) for k in (0, 2, 4)]))
                pos, i = (nums[i + 4], nums[i + 5]), i + 6
            else:
                segments.append((pos, pos, (nums[i], nums[i + 1]), (nums[i], nums[i + 1])))
                pos, i = (nums[i], nums[i + 1]), i + 2
        start, end = (nums[0], nums[1]), pos
        for p0, p1, p2, p3 in segments:
            for k in range(41):
                t = k / 40
                x = ((1 - t) ** 3 * p0[0] + 3 * (1 - t) ** 2 * t * p1[0] + 3 * (1 - t) * t ** 2 * p2[0]
                     + t ** 3 * p3[0])
                y = ((1 - t) ** 3 * p0[1] + 3 * (1 - t) ** 2 * t * p1[1] + 3 * (1 - t) * t ** 2 * p2[1]
                     + t ** 3 * p3[1])
                for bx, by, bw, bh in boxes:
                    inside = bx + 1 < x < bx + bw - 1 and by + 1 < y < by + bh - 1
                    assert not inside, f"arrow {title} passes behind the box at ({bx}, {by})"
        assert start != end


def test_pytorch_signatures_page_lists_every_name_with_a_status(site):
    sys.path.insert(0, str(REPO / "docs" / "hooks"))
    entries = importlib.import_module("pytorch_names").ENTRIES
    html = (site / "pytorch-signatures" / "index.html").read_text(encoding="utf-8")
    rows = re.findall(r"<tr>\s*<td><code>(torch\.[\w.]+)</code></td>.*?</tr>", html, re.S)
    assert sorted(rows) == sorted(e[1] for e in entries)
    statuses = re.findall(r"<td>(supported|differs: no .*?|<strong>missing</strong>)</td>\s*</tr>", html)
    assert len(statuses) == len(entries)
