"""Per-code records: read for verdicts, written for scans, in C over LMDB.

The `codes` database keeps everything tracecode knows about one code under
keys that share the code key as prefix, so a single B-tree descent (a cursor
set to the code key, then `next`) finds all of them:

    code key + 0x00   State   status (u8), seq of the event that set it (u64)
    code key + 0x01   parent  the code key of the container it is packed in

Each scanned code's summary (Seen: scan count, first scan time and seq, last scan
seq, the distinct places it was scanned at; fixed width) is in a table of its own,
`seen`, under the bare code key (layout 3). Recording touches only these pages, not
the pages of the codes' states, and a batch's codes (product id and counter,
big-endian) sit together there. Every kernel taking `seen_db` reads the layout
before it (format 2: Seen under code key + 0x02 in `codes`) when it is None; that is
what the move from format 2 (seentable.py) and the old-layout tests read and write.

A code key is 12 bytes for a code of ours (product id u32 and counter u64,
big-endian, so a product's codes sort by counter), b"ext\\0" + the code for an
imported code and b"sscc\\0" + 18 digits for a logistic unit; no key holds a byte
below 0x20, so the records of one code are never interleaved with another's.
Codes that never had an event or a scan have no record at all. Values are in
the machine's byte order, like LMDB's own pages (an LMDB file does not move
between machines of different byte order either).

Scans are appended to the `scans` database (seq -> the record written by
record_scans); each names the previous scan of the same code, so a code's
scans are a chain from its Seen.last_seq and need no per-scan index.
"""
import numpy as np

from libc.stdint cimport int32_t, int64_t, uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcmp, memcpy, memset

from tracecode.store.lmdb._lmdb cimport (MDB_APPEND, MDB_NEXT, MDB_NOTFOUND, MDB_SET_RANGE, MDB_cursor,
                                    MDB_dbi, MDB_val, Txn, dbi_of, fail, open_txn, wrote)

cdef enum:
    KIND_STATE = 0
    KIND_PARENT = 1
    KIND_SEEN = 2
    MAX_KEY = 64        # longest code key: an imported code of up to 60 bytes after b"ext\\0"
    MAX_DEPTH = 8       # unit < case < pallet < ... containers followed upwards
    MAX_PLACES_C = 8

MAX_PLACES = MAX_PLACES_C
KEY_LIMIT = MAX_KEY
CONTAINER_DEPTH = MAX_DEPTH
STATE, PARENT, SEEN = bytes([KIND_STATE]), bytes([KIND_PARENT]), bytes([KIND_SEEN])

cdef packed struct State:
    uint8_t status
    uint64_t seq

cdef packed struct Seen:
    uint32_t count
    uint8_t n
    double first_time
    uint64_t first_seq
    uint64_t last_seq
    uint32_t places[MAX_PLACES_C]

cdef struct Found:
    uint8_t status
    uint64_t seq
    size_t parent_len         # 0: not packed
    uint8_t parent[MAX_KEY]
    bint seen
    Seen s


cdef enum:
    SEEN_SKIP = 0       # containers: only their status, seq and parent are wanted
    SEEN_INLINE = 1     # format 2: Seen under code key + KIND_SEEN in `codes`
    SEEN_TABLE = 2      # format 3: Seen under the bare code key in `seen`


cdef enum:
    AHEAD_UNKNOWN = 0   # the cursor must be set
    AHEAD_AT = 1        # it sits at key, the smallest key >= lo
    AHEAD_END = 2       # no key >= lo


# A cursor walking forward through `seen` as a merge join: the keys between the last one
# looked for (lo) and the one the cursor sits at are known absent, so a code never scanned
# costs no LMDB call and the next summary is one MDB_NEXT away.
cdef struct Ahead:
    MDB_cursor *cur
    int state
    size_t klen
    size_t lolen
    uint8_t key[MAX_KEY]
    uint8_t lo[MAX_KEY]
    MDB_val v


cdef inline int _cmp(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen) noexcept nogil:
    """LMDB's default order: memcmp, the shorter first on a tie."""
    cdef int c = memcmp(a, b, alen if alen < blen else blen)
    if c:
        return c
    return (alen > blen) - (alen < blen)


cdef inline void _sits(Ahead *a, MDB_val *k, MDB_val *v) noexcept nogil:
    if k.mv_size > MAX_KEY:   # not a code key: nothing to remember, set the cursor next time
        a.state = AHEAD_UNKNOWN
        return
    a.state = AHEAD_AT
    a.klen = k.mv_size
    memcpy(a.key, k.mv_data, k.mv_size)
    a.v = v[0]


cdef int _ahead_find(Txn *t, Ahead *a, const uint8_t *p, size_t plen, bint *found,
                     MDB_val *out) noexcept nogil:
    """Whether key p is in the cursor's database (its value in out); an LMDB error or 0.
    Values point into the transaction's pages: the callers write nothing meanwhile."""
    cdef MDB_val k, v
    cdef int rc, c = 1
    found[0] = False
    if a.state != AHEAD_UNKNOWN and _cmp(a.lo, a.lolen, p, plen) <= 0:
        if a.state == AHEAD_END:
            c = -1
        else:
            c = _cmp(p, plen, a.key, a.klen)
            if c > 0:   # past the key it sits at: the next one is the likeliest
                rc = t.api.cursor_get(a.cur, &k, &v, MDB_NEXT)
                if rc == MDB_NOTFOUND:
                    a.state = AHEAD_END
                    c = -1
                elif rc:
                    a.state = AHEAD_UNKNOWN
                    return rc
                else:
                    _sits(a, &k, &v)
                    c = _cmp(p, plen, a.key, a.klen) if a.state == AHEAD_AT else 1
    if c > 0:
        k.mv_size = plen
        k.mv_data = <void *>p
        rc = t.api.cursor_get(a.cur, &k, &v, MDB_SET_RANGE)  # LMDB tries the cursor's page first
        if rc == MDB_NOTFOUND:
            a.state = AHEAD_END
            c = -1
        elif rc:
            a.state = AHEAD_UNKNOWN
            return rc
        else:
            _sits(a, &k, &v)
            c = _cmp(p, plen, <const uint8_t *>k.mv_data, k.mv_size)
    if c == 0:
        found[0] = True
        out[0] = a.v if a.state == AHEAD_AT else v
    a.lolen = plen
    memcpy(a.lo, p, plen)
    return 0


cdef int _records(Txn *t, MDB_cursor *cur, Ahead *sa, int seen_mode, const uint8_t *key,
                  size_t klen, uint8_t *scratch, Found *f) noexcept nogil:
    """All records of one code in one descent (and its summary in `seen` through sa, a
    cursor moving forward too); returns an LMDB error or 0."""
    cdef bint hit
    cdef MDB_val k, v
    cdef int rc
    cdef uint8_t kind
    cdef State st
    f.status = 0
    f.seq = 0
    f.parent_len = 0
    f.seen = False
    memcpy(scratch, key, klen)
    scratch[klen] = KIND_STATE
    k.mv_size = klen + 1
    k.mv_data = scratch
    rc = t.api.cursor_get(cur, &k, &v, MDB_SET_RANGE)
    while rc == 0:
        if k.mv_size != klen + 1 or memcmp(k.mv_data, key, klen) != 0:
            break
        kind = (<uint8_t *>k.mv_data)[klen]
        if kind == KIND_STATE and v.mv_size == sizeof(State):
            memcpy(&st, v.mv_data, sizeof(State))
            f.status = st.status
            f.seq = st.seq
        elif kind == KIND_PARENT and 0 < v.mv_size <= MAX_KEY:
            f.parent_len = v.mv_size
            memcpy(f.parent, v.mv_data, v.mv_size)
        elif kind == KIND_SEEN and seen_mode == SEEN_INLINE and v.mv_size == sizeof(Seen):
            f.seen = True
            memcpy(&f.s, v.mv_data, sizeof(Seen))
        rc = t.api.cursor_get(cur, &k, &v, MDB_NEXT)
    if rc != 0 and rc != MDB_NOTFOUND:
        return rc
    if seen_mode == SEEN_TABLE:
        rc = _ahead_find(t, sa, key, klen, &hit, &v)
        if rc:
            return rc
        if hit and v.mv_size == sizeof(Seen):
            f.seen = True
            memcpy(&f.s, v.mv_data, sizeof(Seen))
    if f.seen:
        f.s.n = min(f.s.n, MAX_PLACES_C)
    return 0


cdef int _effective(Txn *t, MDB_cursor *cur, MDB_cursor *pcur, Ahead *sa, int seen_mode,
                    const uint8_t *key, size_t klen, uint8_t *scratch, Found *f, Found *up) noexcept nogil:
    """The code's own records in f, its status and seq replaced by those of the
    most recent event on a container it is in (shipping a pallet ships its cases).
    Containers are read through their own cursor pcur, so that cur stays on the
    page of the codes and the next key in order is found there (see keyorder.py)."""
    cdef int rc = _records(t, cur, sa, seen_mode, key, klen, scratch, f)
    cdef int depth = 0
    cdef uint8_t pkey[MAX_KEY]
    cdef size_t plen = f.parent_len
    if rc:
        return rc
    memcpy(pkey, f.parent, plen)
    while plen and depth < MAX_DEPTH:
        rc = _records(t, pcur, NULL, SEEN_SKIP, pkey, plen, scratch, up)
        if rc:
            return rc
        if up.seq > f.seq:
            f.status = up.status
            f.seq = up.seq
        plen = up.parent_len
        memcpy(pkey, up.parent, plen)
        depth += 1
    return 0


cdef inline bint _has_place(Seen *s, uint32_t h) noexcept nogil:
    cdef int j
    for j in range(s.n):
        if s.places[j] == h:
            return True
    return False


cdef int _check_keys(const uint8_t[::1] keys, const int64_t[::1] offsets) except -1:
    """Offsets must rise within the key buffer, each key at most MAX_KEY bytes."""
    cdef Py_ssize_t i
    if offsets.shape[0] < 1 or offsets[0] < 0 or offsets[offsets.shape[0] - 1] > keys.shape[0]:
        raise ValueError("key offsets outside the key buffer")
    for i in range(offsets.shape[0] - 1):
        if not 0 <= offsets[i + 1] - offsets[i] <= MAX_KEY:
            raise ValueError(f"code key {i} is negative or longer than {MAX_KEY} bytes")
    return 0


cdef int _check_order(const int64_t[::1] order, Py_ssize_t n) except -1:
    """The rows to visit must be rows (each visited once is the caller's promise)."""
    cdef Py_ssize_t j
    if order.shape[0] > n:
        raise ValueError(f"{order.shape[0]} rows to visit, of {n}")
    for j in range(order.shape[0]):
        if not 0 <= order[j] < n:
            raise ValueError(f"row {order[j]} to visit is not one of the {n} keys")
    return 0


def key_prefixes(const uint8_t[::1] keys, const int64_t[::1] offsets, uint64_t[::1] hi,
                 uint64_t[::1] lo):
    """The first 16 bytes of each key as two big-endian numbers (zero-padded), for
    sorting keys in numpy in LMDB's order (memcmp, shorter first on a tie)."""
    cdef Py_ssize_t i, j, n = offsets.shape[0] - 1
    cdef size_t klen
    cdef uint64_t h, l
    cdef const uint8_t *k
    _check_keys(keys, offsets)
    if hi.shape[0] < n or lo.shape[0] < n:
        raise ValueError(f"an output array is shorter than the {n} keys")
    with nogil:
        for i in range(n):
            klen = offsets[i + 1] - offsets[i]
            k = &keys[offsets[i]]
            h = 0
            l = 0
            for j in range(8):
                h = (h << 8) | (k[j] if <size_t>j < klen else 0)
            for j in range(8, 16):
                l = (l << 8) | (k[j] if <size_t>j < klen else 0)
            hi[i] = h
            lo[i] = l


def read_codes(env, txn, db, const uint8_t[::1] keys, const int64_t[::1] offsets,
               uint32_t place_hash, uint8_t[:] status, uint64_t[:] seq, uint32_t[:] count,
               uint8_t[:] places, double[:] first_time, uint64_t[:] first_seq,
               const int64_t[::1] order=None, seen_db=None):
    """For each row i in `order` (default: every row, in row order; keyorder.visit_order
    gives the rows with a key in key order), key keys[offsets[i]:offsets[i+1]] (empty:
    skip): effective status and seq, and its scan summary; `places` counts the
    distinct places including place_hash (0: no place). Rows not visited are left
    as they are. One cursor
    moves forward through the codes (and one through `seen_db`, the summaries; None:
    format 2's, inside db), so a page holding several keys is found once (LMDB searches
    the cursor's page before descending from the root)."""
    cdef Txn t
    cdef MDB_cursor *cur = NULL
    cdef MDB_cursor *pcur = NULL
    cdef Ahead sa
    cdef int seen_mode = SEEN_INLINE if seen_db is None else SEEN_TABLE
    cdef Found f, up
    cdef uint8_t scratch[MAX_KEY + 1]
    cdef Py_ssize_t i, j, n = offsets.shape[0] - 1, visits = n
    cdef size_t klen
    cdef int rc = 0
    cdef bint ordered = order is not None
    _check_keys(keys, offsets)
    if ordered:
        _check_order(order, n)
        visits = order.shape[0]
    if min(status.shape[0], seq.shape[0], count.shape[0], places.shape[0], first_time.shape[0],
           first_seq.shape[0]) < n:
        raise ValueError(f"an output array is shorter than the {n} keys")
    open_txn(env, txn, &t)
    cdef MDB_dbi dbi = dbi_of(env, db)
    rc = t.api.cursor_open(t.txn, dbi, &cur)
    if rc:
        fail(&t, rc)
    rc = t.api.cursor_open(t.txn, dbi, &pcur)
    if rc:
        t.api.cursor_close(cur)
        fail(&t, rc)
    sa.cur = NULL
    sa.state = AHEAD_UNKNOWN
    if seen_mode == SEEN_TABLE:
        rc = t.api.cursor_open(t.txn, dbi_of(env, seen_db), &sa.cur)
        if rc:
            t.api.cursor_close(pcur)
            t.api.cursor_close(cur)
            fail(&t, rc)
    try:
        for j in range(visits):
            i = order[j] if ordered else j
            klen = offsets[i + 1] - offsets[i]
            if klen == 0:
                continue
            rc = _effective(&t, cur, pcur, &sa, seen_mode, &keys[offsets[i]], klen, scratch, &f, &up)
            if rc:
                break
            status[i] = f.status
            seq[i] = f.seq
            if f.seen:
                count[i] = f.s.count
                places[i] = f.s.n + (place_hash != 0 and not _has_place(&f.s, place_hash))
                first_time[i] = f.s.first_time
                first_seq[i] = f.s.first_seq
            else:
                places[i] = place_hash != 0
    finally:
        if sa.cur != NULL:
            t.api.cursor_close(sa.cur)
        t.api.cursor_close(pcur)
        t.api.cursor_close(cur)
    if rc:
        fail(&t, rc)


def read_code(env, txn, db, bytes key, uint32_t place_hash, seen_db=None):
    """One code: (status, seq, scan count, place hashes, first time, first seq, last seq);
    its summary in seen_db (None: format 2's, inside db)."""
    cdef Txn t
    cdef MDB_cursor *cur = NULL
    cdef Ahead sa
    cdef int seen_mode = SEEN_INLINE if seen_db is None else SEEN_TABLE
    cdef Found f, up
    cdef uint8_t scratch[MAX_KEY + 1]
    cdef int rc, j
    if len(key) > MAX_KEY:
        raise ValueError(f"code key longer than {MAX_KEY} bytes")
    open_txn(env, txn, &t)
    rc = t.api.cursor_open(t.txn, dbi_of(env, db), &cur)
    if rc:
        fail(&t, rc)
    sa.cur = NULL
    sa.state = AHEAD_UNKNOWN
    if seen_mode == SEEN_TABLE:
        rc = t.api.cursor_open(t.txn, dbi_of(env, seen_db), &sa.cur)
        if rc:
            t.api.cursor_close(cur)
            fail(&t, rc)
    rc = _effective(&t, cur, cur, &sa, seen_mode, <const uint8_t *>key, len(key), scratch, &f, &up)
    if sa.cur != NULL:
        t.api.cursor_close(sa.cur)
    t.api.cursor_close(cur)
    if rc:
        fail(&t, rc)
    if not f.seen:
        return f.status, f.seq, 0, (), None, 0, 0
    return (f.status, f.seq, f.s.count, tuple([f.s.places[j] for j in range(f.s.n)]),
            f.s.first_time, f.s.first_seq, f.s.last_seq)


cdef inline uint64_t _fnv1a(const uint8_t *p, size_t n) noexcept nogil:
    cdef uint64_t h = 14695981039346656037ULL
    cdef size_t i
    for i in range(n):
        h = (h ^ p[i]) * 1099511628211ULL
    return h


def get_values(env, txn, db, const uint8_t[::1] keys, const int64_t[::1] offsets,
               uint8_t[:] found, int32_t[:] which=None):
    """Plain lookups: found[i] = whether key i (empty: skip) is in db; returns the
    values of the found keys, in order. With `which`: returns each distinct value
    once (in first-found order) and which[j] = the one the j-th found key has.

    One cursor walks forward (keys given in or near key order find their page
    without a descent from the root); values are compared in C, so a value shared
    by many keys becomes one Python object."""
    cdef Txn t
    cdef Ahead a
    cdef MDB_val v
    cdef bint hit, dedup = which is not None
    cdef Py_ssize_t i, n = offsets.shape[0] - 1, nfound = 0, ndistinct = 0
    cdef size_t cap = 1, slot
    cdef uint64_t h
    cdef int rc = 0
    cdef int32_t *table = NULL
    cdef int32_t last = -1
    cdef MDB_val *distinct = NULL
    cdef uint64_t *hashes = NULL
    cdef MDB_val *got = NULL
    _check_keys(keys, offsets)
    if found.shape[0] < n:
        raise ValueError(f"the found array is shorter than the {n} keys")
    if dedup and which.shape[0] < n:
        raise ValueError(f"the which array is shorter than the {n} keys")
    while cap < 2 * <size_t>n + 2:
        cap <<= 1
    open_txn(env, txn, &t)
    a.state = AHEAD_UNKNOWN
    a.cur = NULL
    rc = t.api.cursor_open(t.txn, dbi_of(env, db), &a.cur)
    if rc:
        fail(&t, rc)
    got = <MDB_val *>malloc((n + 1) * sizeof(MDB_val))
    if dedup:
        table = <int32_t *>malloc(cap * sizeof(int32_t))
        distinct = <MDB_val *>malloc((n + 1) * sizeof(MDB_val))
        hashes = <uint64_t *>malloc((n + 1) * sizeof(uint64_t))
    try:
        if got == NULL or (dedup and (table == NULL or distinct == NULL or hashes == NULL)):
            raise MemoryError()
        if dedup:
            memset(table, 0xff, cap * sizeof(int32_t))   # -1: an empty slot
        for i in range(n):
            found[i] = 0
            if offsets[i + 1] == offsets[i]:
                continue
            rc = _ahead_find(&t, &a, &keys[offsets[i]], offsets[i + 1] - offsets[i], &hit, &v)
            if rc:
                break
            if not hit:
                continue
            found[i] = 1
            got[nfound] = v
            if dedup and last >= 0 and distinct[last].mv_size == v.mv_size and \
                    memcmp(distinct[last].mv_data, v.mv_data, v.mv_size) == 0:
                which[nfound] = last   # neighbouring keys mostly share a record: no hash
            elif dedup:
                h = _fnv1a(<const uint8_t *>v.mv_data, v.mv_size)
                slot = h & (cap - 1)
                while table[slot] >= 0 and not (
                        hashes[table[slot]] == h and distinct[table[slot]].mv_size == v.mv_size
                        and memcmp(distinct[table[slot]].mv_data, v.mv_data, v.mv_size) == 0):
                    slot = (slot + 1) & (cap - 1)
                if table[slot] < 0:
                    table[slot] = <int32_t>ndistinct
                    distinct[ndistinct] = v
                    hashes[ndistinct] = h
                    ndistinct += 1
                which[nfound] = last = table[slot]
            nfound += 1
        if rc:
            t.api.cursor_close(a.cur)
            a.cur = NULL
            fail(&t, rc)
        # the values point into the transaction's pages: copied out before it can move on
        if dedup:
            return [(<const char *>distinct[i].mv_data)[:distinct[i].mv_size] for i in range(ndistinct)]
        return [(<const char *>got[i].mv_data)[:got[i].mv_size] for i in range(nfound)]
    finally:
        if a.cur != NULL:
            t.api.cursor_close(a.cur)
        free(got)
        free(table)
        free(distinct)
        free(hashes)


def record_scans(env, txn, db_codes, db_scans, uint64_t first,
                 const uint8_t[::1] keys, const int64_t[::1] offsets, const uint8_t[::1] verdicts,
                 const int32_t[::1] sources, const uint8_t[::1] prefixes,
                 const int64_t[::1] prefix_off, const uint32_t[::1] hashes,
                 const double[::1] times, const int64_t[::1] order=None, seen_db=None):
    """Append scans first, first+1, ... and update each code's Seen record (in seen_db
    under the code key; None: format 2's place, db_codes under code key + 0x02).

    Scan i has code key keys[offsets[i]:offsets[i+1]] (empty: an unknown code),
    verdict verdicts[i], time times[i] and comes from source c = sources[i] (a
    scanner at a place), whose prefix bytes and place hash are
    prefixes[prefix_off[c]:prefix_off[c+1]] and hashes[c]. A scan record is the
    time (big-endian double), the source's prefix, the verdict (u8), the seq of
    the code's previous scan (u64 in machine order, 0: none) and the code key.

    `order` is the scans with a code key in key order, scans of one code in scan
    order (keyorder.visit_order; default: every scan in scan order): the Seen records are updated in that order through
    one cursor moving forward, so each page is found and dirtied once, not once
    per scan from the root; then the scan records are appended in seq order
    through a second cursor. Runs without the GIL: it is a write transaction, so
    nothing can resize the map.
    """
    cdef Txn t
    cdef Py_ssize_t i, j, n = verdicts.shape[0], c, visits = n
    cdef bint ordered = order is not None
    cdef size_t klen, plen, longest = 0
    cdef int rc = 0, b
    cdef uint64_t seq, bits
    cdef uint8_t skey[MAX_KEY + 1]
    cdef uint8_t seqkey[8]
    cdef Seen s
    cdef MDB_val k, v
    cdef uint8_t *buf
    cdef uint64_t *prev
    cdef MDB_cursor *cur = NULL
    cdef MDB_cursor *scur = NULL
    cdef bint inline_seen = seen_db is None
    cdef size_t sklen
    if offsets.shape[0] != n + 1 or sources.shape[0] != n or times.shape[0] != n:
        raise ValueError("keys, verdicts, sources and times disagree in length")
    _check_keys(keys, offsets)
    if ordered:
        _check_order(order, n)
        visits = order.shape[0]
    if prefix_off.shape[0] != hashes.shape[0] + 1:
        raise ValueError("prefixes and place hashes disagree in length")
    if prefix_off[0] < 0 or prefix_off[prefix_off.shape[0] - 1] > prefixes.shape[0]:
        raise ValueError("prefix offsets outside the prefix buffer")
    for c in range(prefix_off.shape[0] - 1):
        if prefix_off[c + 1] < prefix_off[c]:
            raise ValueError("prefix offsets must not decrease")
        longest = max(longest, <size_t>(prefix_off[c + 1] - prefix_off[c]))
    for i in range(n):
        if not 0 <= sources[i] < hashes.shape[0]:
            raise ValueError(f"scan {i} names source {sources[i]}, of {hashes.shape[0]}")
    open_txn(env, txn, &t)
    cdef MDB_dbi seen_dbi = dbi_of(env, db_codes if inline_seen else seen_db)
    cdef MDB_dbi scans_dbi = dbi_of(env, db_scans)
    buf = <uint8_t *>malloc(8 + longest + 9 + MAX_KEY)
    prev = <uint64_t *>malloc(max(n, 1) * sizeof(uint64_t))
    if buf == NULL or prev == NULL:
        free(buf)
        free(prev)
        raise MemoryError()
    with nogil:
        memset(prev, 0, max(n, 1) * sizeof(uint64_t))  # scans of no code: no previous scan
        rc = t.api.cursor_open(t.txn, seen_dbi, &cur)
        if rc == 0:
            rc = t.api.cursor_open(t.txn, scans_dbi, &scur)
        # 1. the Seen records, in key order
        for j in range(visits if rc == 0 else 0):
            i = order[j] if ordered else j
            klen = offsets[i + 1] - offsets[i]
            if klen == 0:
                continue
            seq = first + i
            c = sources[i]
            memcpy(skey, &keys[offsets[i]], klen)
            skey[klen] = KIND_SEEN
            sklen = klen + inline_seen
            k.mv_size = sklen
            k.mv_data = skey
            rc = t.api.cursor_get(cur, &k, &v, MDB_SET_RANGE)
            if rc == 0 and (k.mv_size != sklen or memcmp(k.mv_data, skey, sklen) != 0):
                rc = MDB_NOTFOUND  # the next key is another's: no Seen record yet
            if rc == 0 and v.mv_size == sizeof(Seen):
                memcpy(&s, v.mv_data, sizeof(Seen))
                s.n = min(s.n, MAX_PLACES_C)
            elif rc == 0 or rc == MDB_NOTFOUND:
                memset(&s, 0, sizeof(Seen))
                s.first_time = times[i]
                s.first_seq = seq
            else:
                break
            prev[i] = s.last_seq
            s.count += 1
            s.last_seq = seq
            if hashes[c] and s.n < MAX_PLACES_C and not _has_place(&s, hashes[c]):
                s.places[s.n] = hashes[c]
                s.n += 1
            k.mv_size = sklen
            k.mv_data = skey
            v.mv_size = sizeof(Seen)   # fixed width: an existing summary is overwritten in place
            v.mv_data = &s
            rc = t.api.cursor_put(cur, &k, &v, 0)
            if rc:
                break
        # 2. the scan records, in seq order
        for i in range(n if rc == 0 else 0):
            seq = first + i
            klen = offsets[i + 1] - offsets[i]
            c = sources[i]
            memcpy(&bits, &times[i], 8)
            for b in range(8):
                buf[b] = (bits >> (56 - 8 * b)) & 0xFF
            plen = prefix_off[c + 1] - prefix_off[c]
            memcpy(buf + 8, &prefixes[prefix_off[c]], plen)
            plen += 8
            buf[plen] = verdicts[i]
            memcpy(buf + plen + 1, &prev[i], 8)
            if klen:
                memcpy(buf + plen + 9, &keys[offsets[i]], klen)
            for b in range(8):
                seqkey[b] = (seq >> (56 - 8 * b)) & 0xFF
            k.mv_size = 8
            k.mv_data = seqkey
            v.mv_size = plen + 9 + klen
            v.mv_data = buf
            rc = t.api.cursor_put(scur, &k, &v, MDB_APPEND)
            if rc:
                break
        if scur != NULL:
            t.api.cursor_close(scur)
        if cur != NULL:
            t.api.cursor_close(cur)
    free(buf)
    free(prev)
    wrote(&t)
    if rc:
        fail(&t, rc)
