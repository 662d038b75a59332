"""Checking an LMDB data file with plain file I/O before LMDB maps it.

LMDB maps data.mdb and follows page numbers into the map; a file shorter than
its newest meta page says (cut by a crash of the file system, a bad copy, a
truncate) makes the first read past its end a SIGBUS that kills the process.
A file of 0 bytes is worse: LMDB takes it for a new environment and starts
afresh. So the meta pages are read and checked here first.

The layout is LMDB 0.9's (libraries/liblmdb/mdb.c, 64-bit): each of pages 0
and 1 starts with a 16-byte MDB_page header (mp_pgno u64, mp_pad u16, mp_flags
u16 with P_META, ...), then MDB_meta: mm_magic u32 (0xBEEFC0DE), mm_version u32
(MDB_DATA_VERSION 1), mm_address, mm_mapsize, mm_dbs[2] (48-byte MDB_db each;
the free DB's md_pad is the page size, `mm_psize`), mm_last_pg u64, mm_txnid
u64. mdb_env_read_header reads both; mdb_env_pick_meta uses the higher txnid.
"""
from __future__ import annotations

import os
import struct
from dataclasses import dataclass
from pathlib import Path

from ...errors import TracecodeError

MAGIC = 0xBEEFC0DE
DATA_VERSION = 1
P_META = 0x08
PAGE_HEADER = 16
_PAGE = struct.Struct("<QHH")
_HEAD = struct.Struct("<IIQQ")           # magic, version, address, map size
_PSIZE = struct.Struct("<IH")            # mm_dbs[FREE_DBI].md_pad (page size), md_flags
_TAIL = struct.Struct("<QQ")             # mm_last_pg, mm_txnid
_PSIZE_AT = PAGE_HEADER + _HEAD.size     # 40
_TAIL_AT = _PSIZE_AT + 2 * 48            # 136
META_BYTES = _TAIL_AT + _TAIL.size       # 152
MIN_PAGE, MAX_PAGE = 512, 65536          # LMDB refuses page sizes outside these


class IndexDamaged(TracecodeError):
    """The index file is missing, empty, truncated or not an LMDB file."""


@dataclass(frozen=True)
class Meta:
    page: int          # 0 or 1
    psize: int
    map_size: int
    last_pg: int
    txnid: int

    @property
    def needed(self) -> int:
        """Bytes the file must hold: every page up to the last one in use."""
        return (self.last_pg + 1) * self.psize


def _meta(buf: bytes, page: int) -> Meta | None:
    if len(buf) < META_BYTES:
        return None
    pgno, _, flags = _PAGE.unpack_from(buf, 0)
    magic, version, _, map_size = _HEAD.unpack_from(buf, PAGE_HEADER)
    psize, _ = _PSIZE.unpack_from(buf, _PSIZE_AT)
    last_pg, txnid = _TAIL.unpack_from(buf, _TAIL_AT)
    if (pgno != page or not flags & P_META or magic != MAGIC or version != DATA_VERSION
            or not MIN_PAGE <= psize <= MAX_PAGE or psize & (psize - 1) or last_pg < 1):
        return None
    return Meta(page, psize, map_size, last_pg, txnid)


def read_metas(path: str | Path) -> tuple[int, Meta | None, Meta | None]:
    """(file size, meta of page 0, meta of page 1); a meta is None where unreadable."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        m0 = _meta(f.read(META_BYTES), 0)
        # page 1 sits one page further: page 0 says how far, else the OS page size
        # (LMDB's default), to tell a damaged page 0 from a file that is not LMDB's
        f.seek(m0.psize if m0 is not None else os.sysconf("SC_PAGE_SIZE"))
        m1 = _meta(f.read(META_BYTES), 1)
    return size, m0, m1


def check_data_file(path: str | Path, restore_hint: str) -> Meta:
    """The meta LMDB would use, after checking the file holds every page it names.

    Raises IndexDamaged (one line: the file, what is wrong, `restore_hint`)."""
    path = Path(path)
    try:
        size, m0, m1 = read_metas(path)
    except FileNotFoundError:
        raise IndexDamaged(f"{path} is missing; {restore_hint}") from None
    except OSError as exc:
        raise IndexDamaged(f"{path} cannot be read ({exc.strerror}); {restore_hint}") from None
    if size == 0:
        raise IndexDamaged(f"{path} is empty (0 bytes); {restore_hint}")
    if m0 is None and m1 is None:
        raise IndexDamaged(f"{path} is not an LMDB file or its meta pages are damaged "
                           f"({size:,} bytes); {restore_hint}")
    if m0 is None or m1 is None:
        # LMDB itself refuses a file with one bad meta page (MDB_INVALID)
        bad = 0 if m0 is None else 1
        raise IndexDamaged(f"{path}: meta page {bad} is damaged; {restore_hint}")
    meta = m1 if m0.txnid < m1.txnid else m0
    if size < meta.needed:
        raise IndexDamaged(f"{path} is truncated: {size:,} bytes, but its last committed "
                           f"transaction uses {meta.needed:,} (page {meta.last_pg:,} of "
                           f"{meta.psize:,} bytes); {restore_hint}")
    return meta
