"""The generator (tracecode.analytics.synth) writes a whole run or nothing: a second run
into a filled directory is refused (it would mix two runs' scans under one codes snapshot),
the first run's data kept; an empty directory is filled; a run failing half way leaves
neither a partial export nor its work directory."""
from __future__ import annotations

import pyarrow.dataset as ds
import pytest

from tracecode.analytics import synth
from tracecode.analytics.errors import AnalyticsError


def rows(root, part: str) -> int:
    return ds.dataset(root / part, format="parquet", partitioning="hive").count_rows()


def listing(root) -> list:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def test_a_second_run_into_a_filled_directory_is_refused_and_the_first_kept(tmp_path):
    out = tmp_path / "export"
    truth = synth.generate(out, n_codes=400, seed=3)
    assert rows(out, "scans") == truth["scans"]
    before, codes = listing(out), rows(out, "codes")
    with pytest.raises(AnalyticsError, match="not an empty directory"):
        synth.generate(out, n_codes=300, seed=4)
    assert listing(out) == before and rows(out, "scans") == truth["scans"] and rows(out, "codes") == codes
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export"]   # no work directory left


def test_an_empty_directory_is_filled_and_a_file_is_refused(tmp_path):
    out = tmp_path / "export"
    out.mkdir()
    truth = synth.generate(out, n_codes=300, seed=5)
    assert rows(out, "scans") == truth["scans"] and {p.name for p in out.iterdir()} == {"scans", "events", "codes"}
    (tmp_path / "plain").write_text("mine")
    with pytest.raises(AnalyticsError, match="plain"):
        synth.generate(tmp_path / "plain", n_codes=300)
    assert (tmp_path / "plain").read_text() == "mine"


def test_a_run_failing_half_way_leaves_nothing(tmp_path, monkeypatch):
    real, calls = synth._clean_chunk, []

    def second_fails(*args, **kw):
        calls.append(1)
        if len(calls) == 2:
            raise MemoryError("a chunk too many")
        return real(*args, **kw)
    monkeypatch.setattr(synth, "_clean_chunk", second_fails)
    with pytest.raises(MemoryError):
        synth.generate(tmp_path / "export", n_codes=400, seed=3, chunk_codes=200)
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(synth, "_clean_chunk", real)
    truth = synth.generate(tmp_path / "export", n_codes=400, seed=3, chunk_codes=200)   # then a whole one
    assert rows(tmp_path / "export", "scans") == truth["scans"]
