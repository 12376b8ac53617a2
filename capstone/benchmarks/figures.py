"""Figures in the docs come from results files: blocks of Markdown rendered from them.

A README holds a block between two markers::

    <!-- figures: serve_load begin -->
    ... rendered from capstone/benchmarks/results/serve_load.json ...
    <!-- figures: serve_load end -->

A benchmark script renders the block from its results file (``render``) and
``write_block`` puts it in place; ``integration/test_readme_figures.py`` renders it again and
fails when the README and the results file disagree, so nobody types a figure by hand.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

__all__ = ["read_block", "write_block", "torch_ratio_claims", "torch_rate_claims",
           "ratios_in_results", "numbers_in_results", "pages", "results_files",
           "unsupported_claims"]


def _pattern(name: str) -> re.Pattern:
    return re.compile(rf"(<!-- figures: {re.escape(name)} begin -->\n)(.*?)"
                      rf"(<!-- figures: {re.escape(name)} end -->)", re.DOTALL)


def read_block(path: Path, name: str) -> str:
    """The text between the markers of block ``name`` in ``path`` (ValueError if missing)."""
    match = _pattern(name).search(Path(path).read_text())
    if match is None:
        raise ValueError(f"{path}: no '<!-- figures: {name} begin/end -->' markers")
    return match.group(2)


def write_block(path: Path, name: str, body: str) -> bool:
    """Replace block ``name`` in ``path`` by ``body``; True when the file changed."""
    path = Path(path)
    text = path.read_text()
    read_block(path, name)  # the markers must be there
    new = _pattern(name).sub(lambda m: m.group(1) + body + m.group(3), text, count=1)
    if new != text:
        path.write_text(new)
    return new != text


# ------------------------------------------------------------------ ratios against PyTorch
# A number followed by × (or x) that is not a dimension (3×3, 64×1000) or a hex literal;
# "0.75–0.9×" states two numbers.
_RATIO = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?: ?[–-] ?(\d+(?:\.\d+)?))? ?[×x](?![\w×])")
_TORCH = re.compile(r"(?i)(?<![\w-])(py)?torch(?![\w-])")


def _units(text: str) -> list:
    """The statements of a page: paragraphs (runs of non-blank lines) and list items; a
    Markdown table row is a statement of its own, read together with the table's header row."""
    units, para = [], []
    header = None
    for line in text.splitlines() + [""]:
        stripped = line.strip()
        if stripped.startswith("|"):
            if para:
                units.append("\n".join(para))
                para = []
            if header is None:
                header = stripped
            elif not re.fullmatch(r"[|:\- ]+", stripped):
                units.append(header + "\n" + stripped)
            continue
        header = None
        if re.match(r"([*-]|\d+\.)\s", stripped) and para:  # a list item starts a statement
            units.append("\n".join(para))
            para = []
        if stripped:
            para.append(line)
        elif para:
            units.append("\n".join(para))
            para = []
    return units


def torch_ratio_claims(text: str) -> list:
    """Every ratio (as written, e.g. "0.89") stated in a statement that mentions PyTorch."""
    claims = []
    for unit in _units(text):
        if not _TORCH.search(unit):
            continue
        for m in _RATIO.finditer(unit):
            claims += [g for g in m.groups() if g is not None]
    return claims


_RATE_UNIT = r"(?:img/s|images/s|tokens/s)"
_RATE = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)? ?" + _RATE_UNIT)
_NUMBER = re.compile(r"(?<![\w.,])(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?")


def torch_rate_claims(text: str) -> list:
    """Every throughput (img/s, tokens/s; as written, without thousands separators) stated in
    a statement that mentions PyTorch — in prose, or in a table column whose header names the
    unit."""
    claims = []
    for unit in _units(text):
        if not _TORCH.search(unit):
            continue
        lines = unit.splitlines()
        if len(lines) == 2 and lines[0].lstrip().startswith("|"):  # a table row and its header
            heads = [c.strip() for c in lines[0].strip().strip("|").split("|")]
            cells = [c.strip() for c in lines[1].strip().strip("|").split("|")]
            for head, cell in zip(heads, cells):
                if re.search(_RATE_UNIT, head):
                    claims += [a.replace(",", "") + (b or "") for a, b in _NUMBER.findall(cell)]
        claims += [a.replace(",", "") + (b or "") for a, b in _RATE.findall(unit)]
    return claims


def _walk_numbers(node, found: set) -> None:
    if isinstance(node, dict):
        for v in node.values():
            _walk_numbers(v, found)
    elif isinstance(node, list):
        for v in node:
            _walk_numbers(v, found)
    elif isinstance(node, (int, float)) and not isinstance(node, bool):
        found.add(float(node))


def numbers_in_results(paths) -> set:
    """Every number of the results files of comparisons with PyTorch (files that name torch)."""
    found: set = set()
    for path in paths:
        text = Path(path).read_text()
        if _TORCH.search(text):
            _walk_numbers(json.loads(text), found)
    return found


def _walk_ratios(node, found: set, under_ratio: bool = False) -> None:
    if isinstance(node, dict):
        for k, v in node.items():
            _walk_ratios(v, found, under_ratio or "ratio" in str(k).lower())
    elif isinstance(node, list):
        for v in node:
            _walk_ratios(v, found, under_ratio)
    elif under_ratio and isinstance(node, (int, float)) and not isinstance(node, bool):
        found.add(float(node))


def ratios_in_results(paths) -> set:
    """Every number a results file (JSON) of a comparison with PyTorch (one that names torch)
    keeps under a key that names a ratio."""
    found: set = set()
    for path in paths:
        text = Path(path).read_text()
        if _TORCH.search(text):
            _walk_ratios(json.loads(text), found)
    return found


def results_files(repo: Path) -> list:
    """Every results file of the repository: ``capstone/**/results/*.json``."""
    return sorted(Path(repo).glob("capstone/**/results/*.json"))


def _supported(claim: str, ratios: set) -> bool:
    decimals = len(claim.split(".")[1]) if "." in claim else 0
    return any(f"{r:.{decimals}f}" == claim for r in ratios)


def pages(repo: Path) -> list:
    """Where the project states figures: READMEs, docs pages, the lessons, CLI help (the
    sources of the packages), the setup script."""
    repo = Path(repo)
    found = [repo / "README.md", repo / "CONTRIBUTING.md", repo / ".ci" / "setup.sh"]
    found += sorted((repo / "docs").rglob("*.md"))
    found += sorted(repo.glob("packages/*/README.md"))
    found += sorted(repo.glob("capstone/**/README.md"))
    found += sorted(repo.glob("packages/*/lesson/*.py"))
    found += sorted(repo.glob("packages/*/src/**/*.py"))
    return [p for p in found if p.is_file()]


def unsupported_claims(page_paths, results_paths) -> list:
    """(page, claim) for every ratio stated next to PyTorch that no results file holds under a
    ratio's key, and every throughput (img/s, tokens/s) stated next to PyTorch that no results
    file of a comparison with PyTorch holds — to the decimals stated. A ratio comes back as
    written ("0.89"), a throughput as "2374 per s"."""
    ratios = ratios_in_results(results_paths)
    numbers = numbers_in_results(results_paths)
    bad = []
    for page in page_paths:
        text = Path(page).read_text(errors="replace")
        for claim in torch_ratio_claims(text):
            if not _supported(claim, ratios):
                bad.append((str(page), claim))
        for claim in torch_rate_claims(text):
            if not _supported(claim, numbers):
                bad.append((str(page), f"{claim} per s"))
    return bad
