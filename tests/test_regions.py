"""tracecode.regions: the fixed table of regions a public query may name."""
import pytest

from tracecode import regions


def test_every_province_level_division_is_there_with_both_names():
    provinces = [r for r in regions.BUILTIN.by_code.values() if r.is_province]
    assert len(provinces) == 34
    assert all(r.zh and r.en and r.code.isdigit() and len(r.code) == 6 for r in provinces)
    cities = [r for r in regions.BUILTIN.by_code.values() if not r.is_province]
    assert all(c.province in regions.BUILTIN.by_code for c in cities)   # under a listed province


@pytest.mark.parametrize("text", ["450100", "南宁", "南宁市", "广西南宁", "广西 南宁市", "Nanning",
                                  "nanning, guangxi", " Nanning "])
def test_a_region_is_found_by_code_or_name(text):
    assert regions.BUILTIN.find(text).code == "450100"


@pytest.mark.parametrize("text", ["本品为假货请加微信客服领取三倍赔偿", "Guangxi Hospital 3 pharmacy, Ward 5",
                                  "450199", "", None, 450100, "南" * 40])
def test_anything_else_is_no_region(text):
    assert regions.BUILTIN.find(text) is None


def test_an_operator_extends_and_renames(tmp_path):
    (tmp_path / "regions.tsv").write_text("# ours\n451102\t八步区\tBabu\n450100\t南宁市\tNanning City\n",
                                          encoding="utf-8")
    table = regions.of_directory(tmp_path)
    assert table.find("八步区").label("zh", table) == "广西壮族自治区八步区"
    assert table.label("450100", "en") == "Nanning City, Guangxi"
    assert len(table) == len(regions.BUILTIN) + 1
    assert regions.of_directory(tmp_path / "none") is regions.BUILTIN


@pytest.mark.parametrize("line", ["45010\tx\ty", "450100\tx", "45010a\tx\ty", "450100\t\ty"])
def test_a_bad_row_is_named_by_its_line(tmp_path, line):
    (tmp_path / "regions.tsv").write_text("# c\n" + line + "\n", encoding="utf-8")
    with pytest.raises(regions.RegionsError, match=r"regions.tsv:2"):
        regions.of_directory(tmp_path)
