"""The regions a public query may name: GB/T 2260 administrative division codes with their
Chinese and English names (regions.tsv: every province-level division, their capitals and
the larger prefecture-level cities). A data directory's own regions.tsv, in the same form,
adds to or renames them (an operator's extension).

A query records the 6-digit code (what analytics counts by), never text a person typed, and
a page shows the region's name in the reader's language: nobody can write a sentence onto
a code's page for its next reader.

>>> r = BUILTIN.find("南宁")
>>> r.code, r.name("zh"), r.label("en"), r.province
('450100', '南宁市', 'Nanning, Guangxi', '450000')
>>> BUILTIN.find("450100") is r, BUILTIN.find("nanning") is r, BUILTIN.find("广西 南宁") is r
(True, True, True)
>>> BUILTIN.find("本品为假货请加微信客服领取三倍赔偿"), BUILTIN.find("450199")
(None, None)
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from ..errors import TracecodeError

DATA = Path(__file__).with_name("regions.tsv")
FILE_NAME = "regions.tsv"       # a data directory's additions
_SUFFIXES = ("特别行政区", "维吾尔自治区", "壮族自治区", "回族自治区", "自治区", "省", "市")
MAX_NAME_CHARS = 32


class RegionsError(TracecodeError):
    """A regions file that cannot be read (which line, what is wrong)."""


@dataclass(frozen=True)
class Region:
    code: str        # GB/T 2260, 6 digits
    zh: str
    en: str

    @property
    def province(self) -> str:
        return self.code[:2] + "0000"

    @property
    def is_province(self) -> bool:
        return self.code.endswith("0000")

    def name(self, lang: str) -> str:
        return self.zh if lang == "zh" else self.en

    def label(self, lang: str, table: "Regions | None" = None) -> str:
        """The region with its province: "广西壮族自治区南宁市", "Nanning, Guangxi"."""
        parent = (table or BUILTIN).by_code.get(self.province)
        if self.is_province or parent is None:
            return self.name(lang)
        return parent.zh + self.zh if lang == "zh" else f"{self.en}, {parent.en}"


class Regions:
    """A fixed table of regions, looked up by code or by name (either language)."""

    def __init__(self, rows):
        self.by_code: dict[str, Region] = {}
        for region in rows:
            self.by_code[region.code] = region
        self.by_code = dict(sorted(self.by_code.items()))
        self._names: dict[str, Region] = {}
        for region in self.by_code.values():
            for name in _spellings(region, self):
                self._names.setdefault(name, region)
        self._options = {lang: [(r.code, r.name(lang) if r.is_province else "\u3000" + r.name(lang))
                                for r in self.by_code.values()] for lang in ("zh", "en")}

    def __len__(self) -> int:
        return len(self.by_code)

    def find(self, text) -> Region | None:
        """The region a code ("450100") or a name ("南宁", "南宁市", "广西 南宁", "Nanning")
        means; None for anything else."""
        if not isinstance(text, str):
            return None
        text = " ".join(text.split())
        if not text or len(text) > MAX_NAME_CHARS:
            return None
        return self.by_code.get(text) or self._names.get(_key(text))

    def options(self, lang: str) -> list:
        """(code, label) of every region for a <select>: provinces, their cities indented."""
        return self._options["zh" if lang == "zh" else "en"]

    def label(self, code, lang: str) -> str | None:
        region = self.by_code.get(code) if isinstance(code, str) else None
        return region.label(lang, self) if region is not None else None

    def with_file(self, path: Path) -> "Regions":
        """This table plus a regions file's rows (its rows win)."""
        return Regions([*self.by_code.values(), *read(path)])


def _key(text: str) -> str:
    return "".join(text.split()).casefold()


def _short(zh: str) -> str:
    for suffix in _SUFFIXES:
        if zh.endswith(suffix) and len(zh) > len(suffix) + 1:
            return zh[:-len(suffix)]
    return zh


def _spellings(region: Region, table: "Regions"):
    names = {region.zh, _short(region.zh), region.en}
    parent = table.by_code.get(region.province)
    if parent is not None and not region.is_province:
        for p in (parent.zh, _short(parent.zh)):
            names |= {p + n for n in (region.zh, _short(region.zh))}
        names.add(region.en + "," + parent.en)
    return {_key(n) for n in names}


def read(path: Path) -> list[Region]:
    """The rows of a regions file: code, Chinese name, English name, tab-separated; # comments."""
    rows = []
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise RegionsError(f"{path}: cannot read the regions file ({exc})") from None
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = [p.strip() for p in line.split("\t")]
        if len(parts) != 3 or not all(parts):
            raise RegionsError(f"{path}:{n}: expected code, Chinese name, English name separated by tabs")
        code, zh, en = parts
        if len(code) != 6 or not code.isascii() or not code.isdigit():
            raise RegionsError(f"{path}:{n}: {code!r} is not a 6-digit GB/T 2260 code")
        if max(len(zh), len(en)) > MAX_NAME_CHARS:
            raise RegionsError(f"{path}:{n}: a region's name is at most {MAX_NAME_CHARS} characters")
        rows.append(Region(code, zh, en))
    return rows


BUILTIN = Regions(read(DATA))


def of_directory(path) -> Regions:
    """The regions of a data directory: the built-in table plus its regions.tsv, if any."""
    extra = Path(path) / FILE_NAME
    return BUILTIN.with_file(extra) if extra.is_file() else BUILTIN
