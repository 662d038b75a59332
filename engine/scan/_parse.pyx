"""The scan parser's core: every spelling of a code to (scheme, fields), nogil.

One pass per scan over a normalised copy of its bytes:

1. normalise: trim whitespace, full-width ASCII (U+FF01..FF5E, common from
   Chinese input methods) to ASCII, reject invalid UTF-8 and overlong input;
2. a symbology identifier (``]d2`` ``]Q3`` ``]C1`` ``]e0`` ``]J1``) or a
   leading GS means a GS1 element string; other identifiers (``]`` + a letter
   + a letter or digit) are dropped, and anything else after ``]`` is kept;
3. the shape picks the form: ``(`` a GS1 human-readable string, ``http(s)://``
   a Digital Link or a trace URL ending in a code, ``,`` ``;`` or a line break
   a QR payload of fields (the veterinary five-field form) whose first field is
   the code, anything else a bare code (spaces and '-' removed);
4. a bare code is matched against every scheme by length, alphabets and check
   characters; when more than one fits, each that fits is a bit of the scan's
   ``candidates`` and parser.py decides between them by the schemes' rules
   (tracecode.categories.detect), never by their order. A code of no scheme's
   length that starts with AI 00 or 01 is read as an unseparated element string.

Faults carry a position in the normalised scan and, for a bare code, the
scheme field (its index) or, for GS1, the AI. GS1 AIs and their formats come
from GS1's Barcode Syntax Dictionary (tracecode.schemes.gs1_ai), loaded into
tc_ai_table at import; YYMMDD dates take GS1's century rule (_full_year).
A code never holds a non-ASCII byte: every fault leaves it ASCII or empty.
"""
from libc.stdint cimport int16_t, int32_t, uint8_t, uint64_t
from libc.string cimport memchr, memcpy, memmove, memset

from tracecode.checks.kernels cimport calc_fn
from tracecode.checks._systems cimport CheckSystem
from tracecode.scan.gs1_ai cimport TC_AI_PARTS, TC_AI_SLOTS, tc_ai, tc_ai_table

import numpy as np

from tracecode.schemes import gs1_ai

cdef extern from "<time.h>" nogil:
    ctypedef long time_t
    struct tm:
        int tm_year
    time_t time(time_t *t)
    tm *gmtime_r(const time_t *t, tm *out)

cdef enum:
    MAX_SCAN = 4096       # bytes; longer input is TOO_LONG before any work
    MAX_CODE = 40         # longest code kept (GTIN + a 20-character serial is 34)
    MAX_FIELDS = 16
    MAX_SCHEMES = 64
    MAX_AIS = 16
    GS = 29
    DECODED_AT = 2 * MAX_SCAN   # where percent-decoded Digital Link values go


cpdef enum Fault:
    OK = 0
    EMPTY = 1
    TOO_LONG = 2
    NOT_UTF8 = 3
    UNKNOWN_FORMAT = 4
    WRONG_LENGTH = 5
    BAD_CHARACTER = 6
    CHECK_MISMATCH = 7
    UNKNOWN_AI = 8
    BAD_AI_VALUE = 9
    MISSING_AI = 10
    INVALID_DATE = 11
    DUPLICATE_AI = 12
    INVALID_FIELD = 13    # set by parser.py: a product field's rule (choice, date, GTIN)
    EXPIRED_DATE = 14     # set by parser.py when asked: a GS1 expiry (17) before today
    AMBIGUOUS = 15        # set by parser.py: fits several schemes and no rule decides


cpdef enum Form:
    NO_FORM = 0
    BARE = 1
    ELEMENT = 2
    HRI = 3
    DIGITAL_LINK = 4
    QR_FIELDS = 5
    URL = 6


cdef struct field_t:
    int start
    int length
    int role              # 0 product, 1 serial, 2 check
    const uint8_t *allowed


cdef struct scheme_t:
    int length
    int nfields
    bint upper            # lower case may be read as upper case
    field_t fields[MAX_FIELDS]
    calc_fn check         # NULL: no check field
    int check_field, check_from, check_to, check_len
    # GS1 schemes: the serial (AI 21) that makes a GTIN + serial one of ours
    bint gs1
    int serial_len
    const uint8_t *serial_allowed


cdef struct scan_t:
    uint8_t fault
    uint8_t form
    int16_t scheme
    int16_t field         # scheme field index, or the AI for GS1 faults; -1 none
    int32_t position      # in the normalised scan; -1 none
    int16_t nais
    int16_t ai[MAX_AIS]
    int16_t ai_start[MAX_AIS]
    int16_t ai_len[MAX_AIS]
    int16_t code_len
    uint8_t code[MAX_CODE]
    int16_t norm_len
    int16_t first_sep     # QR_FIELDS: where the code's field ends
    uint64_t candidates   # bit per scheme the code fits, when more than one does (else 0)


cdef struct parser_t:
    int nschemes
    scheme_t schemes[MAX_SCHEMES]
    const uint8_t *cset[5]  # by AI component kind: 1 digits, 2 GS1 set 82, 3 set 39, 4 base64url
    int year              # the current year, for the GS1 century rule of YYMMDD dates
    uint8_t len_count[MAX_CODE + 1]   # schemes of each code length: one, and a fit is final


cdef calc_fn gs1_check  # the GTIN's check digit; set when the first ScanCore is built


cdef inline uint8_t _upper(uint8_t c) noexcept nogil:
    return c - 32 if 97 <= c <= 122 else c


cdef inline bint _digit(uint8_t c) noexcept nogil:
    return 48 <= c <= 57


cdef inline void _fail(scan_t *o, uint8_t fault, int position, int field) noexcept nogil:
    o.fault = fault
    o.position = position
    o.field = field


# -- normalisation -----------------------------------------------------------------

cdef Py_ssize_t _normalise(const uint8_t *s, Py_ssize_t n, uint8_t *out) noexcept nogil:
    """Trimmed, full-width-folded copy of s; -(i + 1) for invalid UTF-8 at byte i."""
    cdef Py_ssize_t i = 0, m = 0, k, need, end
    cdef uint8_t c
    cdef unsigned int cp
    while i < n:
        c = s[i]
        if c < 0x80:
            out[m] = c
            m += 1
            i += 1
            continue
        if 0xC2 <= c <= 0xDF:
            need = 1
            cp = c & 0x1F
        elif 0xE0 <= c <= 0xEF:
            need = 2
            cp = c & 0x0F
        elif 0xF0 <= c <= 0xF4:
            need = 3
            cp = c & 0x07
        else:
            return -(i + 1)
        if i + need >= n:  # truncated sequence
            return -(i + 1)
        for k in range(1, need + 1):
            if (s[i + k] & 0xC0) != 0x80:
                return -(i + 1)
            cp = (cp << 6) | (s[i + k] & 0x3F)
        # overlong forms and surrogates are invalid UTF-8
        if (need == 2 and cp < 0x800) or (need == 3 and (cp < 0x10000 or cp > 0x10FFFF)) \
                or 0xD800 <= cp <= 0xDFFF:
            return -(i + 1)
        if 0xFF01 <= cp <= 0xFF5E:          # full-width ASCII
            out[m] = <uint8_t>(cp - 0xFEE0)
            m += 1
        elif cp == 0x3000:                   # ideographic space
            out[m] = 32
            m += 1
        elif cp == 0xFEFF:                   # byte-order mark
            pass
        else:
            memcpy(out + m, s + i, need + 1)
            m += need + 1
        i += need + 1
    # trim ASCII whitespace at both ends
    end = m
    while end > 0 and out[end - 1] in (32, 9, 10, 13, 11, 12):
        end -= 1
    i = 0
    while i < end and out[i] in (32, 9, 10, 13, 11, 12):
        i += 1
    if i:
        for k in range(end - i):
            out[k] = out[k + i]
    return end - i


# -- bare codes ----------------------------------------------------------------------

cdef int _check_scheme(const scheme_t *sc, const uint8_t *code, scan_t *o) noexcept nogil:
    """0 if code (compact, sc.length bytes, already upper-cased if sc.upper) is
    well-formed with right check characters; else records the fault and returns 1."""
    cdef int f, k, pos
    cdef uint8_t expect[2]
    cdef Py_ssize_t r
    for f in range(sc.nfields):
        for k in range(sc.fields[f].length):
            pos = sc.fields[f].start + k
            if not sc.fields[f].allowed[code[pos]]:
                _fail(o, BAD_CHARACTER, pos, f)
                return 1
    if sc.check != NULL:
        r = sc.check(code + sc.check_from, sc.check_to - sc.check_from, expect)
        if r != sc.check_len or expect[0] != code[sc.check_to] or \
                (sc.check_len == 2 and expect[1] != code[sc.check_to + 1]):
            _fail(o, CHECK_MISMATCH, sc.check_to, sc.check_field)
            return 1
    return 0


cdef void _match_bare(const parser_t *P, const uint8_t *s, Py_ssize_t n, int base,
                      scan_t *o) noexcept nogil:
    """The schemes whose length, alphabets and check characters the compacted s
    satisfies: the first is o.scheme; with more than one, every one is a bit of
    o.candidates and the code is kept as typed (case included), so parser.py
    can read it by whichever candidate its rules pick."""
    cdef uint8_t raw[MAX_CODE]
    cdef uint8_t up[MAX_CODE]
    cdef Py_ssize_t i, m = 0, wide = -1
    cdef int si, first = -1, chosen = -1
    cdef uint64_t fits = 0
    cdef scan_t trial
    cdef const uint8_t *cand
    for i in range(n):
        if s[i] <= 45 or s[i] >= 0x80:  # rare: one test per character for the usual ones
            if s[i] == 32 or s[i] == 45:  # typed spaces and dashes
                continue
            if s[i] >= 0x80:
                # No scheme's alphabet holds a non-ASCII character: its bytes never
                # enter the code; it counts as one character, so the length still
                # decides between WRONG_LENGTH and BAD_CHARACTER.
                if wide < 0:
                    wide = i
                if s[i] >= 0xC0:
                    m += 1
                continue
        if m >= MAX_CODE:
            _fail(o, WRONG_LENGTH, -1, -1)
            return
        raw[m] = s[i]
        up[m] = _upper(s[i])
        m += 1
    if m == 0:
        _fail(o, EMPTY, -1, -1)
        return
    if wide >= 0:
        for si in range(P.nschemes):
            if P.schemes[si].length == m:
                _fail(o, BAD_CHARACTER, base + <int>wide, -1)
                return
        _fail(o, WRONG_LENGTH, -1, -1)
        return
    for si in range(P.nschemes):
        if P.schemes[si].length != m:
            continue
        trial.fault = OK
        cand = &up[0] if P.schemes[si].upper else &raw[0]
        if _check_scheme(&P.schemes[si], cand, &trial) == 0:
            fits |= (<uint64_t>1) << si
            if chosen < 0:
                chosen = si
                o.scheme = si
                o.fault = OK
                o.field = -1
                o.position = -1
                o.code_len = <int16_t>m
                memcpy(o.code, cand, m)
                if P.len_count[m] == 1:  # the usual case: no other scheme of this length
                    return
            elif o.candidates == 0:  # a second fit: keep the code as typed
                o.candidates = fits
                memcpy(o.code, raw, m)
            else:
                o.candidates = fits
            continue
        if first < 0 and chosen < 0:  # report the fault against the first candidate
            first = si
            o.scheme = si
            _fail(o, trial.fault, trial.position, trial.field)
    if chosen >= 0:
        return
    if first < 0:
        _fail(o, WRONG_LENGTH, -1, -1)
    else:
        # The position is within the compacted code; spaces typed before it shift it.
        o.code_len = <int16_t>m
        memcpy(o.code, up, m)


# -- GS1 -----------------------------------------------------------------------------

cdef inline int _full_year(int yy, int this_year) noexcept nogil:
    """GS1 General Specifications 7.12: the century that puts YY within -49..+50
    years of the current year ((17)991231 is 1999 in 2026, 761231 is 2076)."""
    cdef int cy = this_year % 100
    cdef int century = this_year - cy
    if yy - cy >= 51:
        return century - 100 + yy
    if yy - cy <= -50:
        return century + 100 + yy
    return century + yy


cdef inline bint _date_ok(const uint8_t *v, int kind, int this_year) noexcept nogil:
    """A date component (digits already checked): kind 1 YYMMDD with DD 00 (the
    month's last day), 2 YYMMDD, 3 YYYYMMDD."""
    cdef int year, mm, dd, days
    if kind == 3:
        year = ((v[0] - 48) * 10 + v[1] - 48) * 100 + (v[2] - 48) * 10 + v[3] - 48
        v += 2
    else:
        year = _full_year((v[0] - 48) * 10 + v[1] - 48, this_year)
    mm = (v[2] - 48) * 10 + v[3] - 48
    dd = (v[4] - 48) * 10 + v[5] - 48
    if mm < 1 or mm > 12:
        return False
    if mm == 2:
        days = 29 if year % 4 == 0 and (year % 100 != 0 or year % 400 == 0) else 28
    elif mm in (4, 6, 9, 11):
        days = 30
    else:
        days = 31
    if dd == 0:
        return kind == 1
    return dd <= days


cdef inline int _slot(int ai, int digits) noexcept nogil:
    """Where AI `ai` of `digits` digits sits in tc_ai_table (see gs1_ai.pxd)."""
    return ai if digits == 2 else (100 + ai if digits == 3 else 1100 + ai)


cdef int _add_ai(const parser_t *P, scan_t *o, const uint8_t *s, int ai, int ai_digits,
                 int start, int length, int base, int src=-1) noexcept nogil:
    """Record AI `ai` with value s[start:start+length]; validate it against the
    AI's format (its components' kinds, lengths and dates). 1 on a fault.

    `src`: where the value is in the scan when `start` points to a decoded copy
    (Digital Link), so faults name a position the user can see."""
    cdef int k, p, pos = 0, plen
    cdef const uint8_t *v = s + start
    cdef const tc_ai *spec = &tc_ai_table[_slot(ai, ai_digits)]
    cdef const uint8_t *allowed
    if src < 0:
        src = start
    for k in range(o.nais):
        if o.ai[k] == ai:
            _fail(o, DUPLICATE_AI, base + src - ai_digits, ai)
            return 1
    if o.nais == MAX_AIS:
        _fail(o, TOO_LONG, base + src, ai)
        return 1
    if length < spec.min_len or length > spec.max_len:
        _fail(o, BAD_AI_VALUE, base + src, ai)
        return 1
    for p in range(spec.nparts):
        if pos == length and spec.parts[p].optional:
            break
        # only a format's last component may vary in length
        plen = spec.parts[p].max if spec.parts[p].min == spec.parts[p].max else length - pos
        if plen > length - pos or plen < spec.parts[p].min or plen > spec.parts[p].max:
            _fail(o, BAD_AI_VALUE, base + src + pos, ai)
            return 1
        allowed = P.cset[spec.parts[p].kind]
        for k in range(pos, pos + plen):
            if not allowed[v[k]]:
                _fail(o, BAD_AI_VALUE, base + src + k, ai)
                return 1
        if spec.parts[p].date and not _date_ok(v + pos, spec.parts[p].date, P.year):
            _fail(o, INVALID_DATE, base + src + pos, ai)
            return 1
        pos += plen
    if pos != length:
        _fail(o, BAD_AI_VALUE, base + src + pos, ai)
        return 1
    o.ai[o.nais] = <int16_t>ai
    o.ai_start[o.nais] = <int16_t>(base + start)
    o.ai_len[o.nais] = <int16_t>length
    o.nais += 1
    return 0


cdef int _read_ai(const uint8_t *s, Py_ssize_t n, Py_ssize_t i, int *ai, int *digits) noexcept nogil:
    """The assigned AI starting at s[i]: 0 and ai/digits set, or 1 if there is none
    (AIs are prefix-free, so the first 2-, 3- or 4-digit reading that GS1 assigned is it)."""
    cdef int d, value = 0
    for d in range(1, 5):
        if i + d > n or not _digit(s[i + d - 1]):
            return 1
        value = value * 10 + s[i + d - 1] - 48
        if d >= 2 and tc_ai_table[_slot(value, d)].digits == d:
            ai[0] = value
            digits[0] = d
            return 0
    return 1


cdef void _element(const parser_t *P, const uint8_t *s, Py_ssize_t n, int base,
                   scan_t *o) noexcept nogil:
    """An element string: AIs back to back, variable ones ended by GS or the end."""
    cdef Py_ssize_t i = 0, j
    cdef int ai = 0, d = 0, length
    o.form = ELEMENT
    while i < n and s[i] == GS:  # leading FNC1
        i += 1
    if i == n:
        _fail(o, EMPTY, -1, -1)
        return
    while i < n:
        if _read_ai(s, n, i, &ai, &d):
            _fail(o, UNKNOWN_AI, base + i, -1)
            return
        i += d
        if tc_ai_table[_slot(ai, d)].predefined:
            length = tc_ai_table[_slot(ai, d)].max_len
            if i + length > n:
                _fail(o, BAD_AI_VALUE, base + i, ai)
                return
        else:
            j = i
            while j < n and s[j] != GS:
                j += 1
            length = <int>(j - i)
        if _add_ai(P, o, s, ai, d, <int>i, length, base):
            return
        i += length
        while i < n and s[i] == GS:  # one separator, or several: harmless
            i += 1


cdef inline bint _hri_ai(const uint8_t *s, Py_ssize_t n, Py_ssize_t i, int *ai,
                        int *d) noexcept nogil:
    """Whether an "(AI)" of an assigned AI starts at s[i]."""
    return i < n and s[i] == 40 and not _read_ai(s, n, i + 1, ai, d) and i + 1 + d[0] < n \
        and s[i + 1 + d[0]] == 41


cdef void _hri(const parser_t *P, const uint8_t *s, Py_ssize_t n, int base,
               scan_t *o) noexcept nogil:
    """(AI)value(AI)value...: a value runs to the next "(AI)", a space or the end,
    so a lot may itself hold parentheses, as GS1 character set 82 allows. Spaces
    (the ideographic space is one after normalising) between groups and after
    ")" are how people type a label; no GS1 character set holds one, so a space
    inside a value ends it, and what follows must be the next "(AI)"; so does a
    "(" in a numeric value, so "(01)…(3109)…" names the unknown (3109)."""
    cdef Py_ssize_t i = 0, j
    cdef int ai = 0, d = 0, nai = 0, nd = 0
    cdef bint numeric
    o.form = HRI
    while i < n:
        while i < n and s[i] == 32:
            i += 1
        if not _hri_ai(s, n, i, &ai, &d):
            _fail(o, UNKNOWN_AI, base + i, -1)
            return
        i += d + 2
        while i < n and s[i] == 32:
            i += 1
        numeric = tc_ai_table[_slot(ai, d)].numeric
        j = i
        while j < n and s[j] != 32 and not (numeric and s[j] == 40) \
                and not _hri_ai(s, n, j, &nai, &nd):
            j += 1
        if _add_ai(P, o, s, ai, d, <int>i, <int>(j - i), base):
            return
        i = j
        while i < n and s[i] == 32:
            i += 1


cdef int _hexval(uint8_t c) noexcept nogil:
    if 48 <= c <= 57:
        return c - 48
    c = _upper(c)
    if 65 <= c <= 70:
        return c - 55
    return -1


cdef Py_ssize_t _pct_decode(const uint8_t *v, Py_ssize_t n, uint8_t *out) noexcept nogil:
    """Percent-decode v[0:n] into out; the length, or -(i + 1) for a bad escape at i."""
    cdef Py_ssize_t i = 0, m = 0
    cdef int hi, lo
    while i < n:
        if v[i] == 37:  # '%'
            if i + 2 >= n:
                return -(i + 1)
            hi = _hexval(v[i + 1])
            lo = _hexval(v[i + 2])
            if hi < 0 or lo < 0:
                return -(i + 1)
            out[m] = <uint8_t>(hi * 16 + lo)
            i += 3
        else:
            out[m] = v[i]
            i += 1
        m += 1
    return m


cdef bint _is_url(const uint8_t *s, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t k = 0
    cdef const char *http = b"HTTP"
    if n < 8:
        return False
    for k in range(4):
        if _upper(s[k]) != <uint8_t>http[k]:
            return False
    if _upper(s[4]) == 83:  # 'S'
        k = 5
    else:
        k = 4
    return k + 3 <= n and s[k] == 58 and s[k + 1] == 47 and s[k + 2] == 47


cdef void _url(const parser_t *P, uint8_t *s, Py_ssize_t n, int base, scan_t *o) noexcept nogil:
    """A GS1 Digital Link (key AI 01 or 00 in the path, qualifiers after it,
    attributes in the query) or, failing that, a trace URL ending in a code."""
    cdef Py_ssize_t i = 0, path, qry, end, a, b, c, d2, m
    cdef int ai = 0, dg = 0, found = 0, k
    # Decoded values go to the scratch area past the normalised text (the
    # text itself stays as scanned); spans there are still relative to s.
    cdef Py_ssize_t dec = DECODED_AT - base, used = 0
    # skip scheme://host
    while i < n and s[i] != 58:
        i += 1
    i += 3
    while i < n and s[i] != 47 and s[i] != 63 and s[i] != 35:
        i += 1
    path = i
    qry = path
    while qry < n and s[qry] != 63 and s[qry] != 35:
        qry += 1
    end = qry
    while end < n and s[end] != 35:
        end += 1
    # path segments: find "/01/<gtin>" or "/00/<sscc>", then AI/value pairs
    a = path
    while a < qry:
        if s[a] != 47:
            a += 1
            continue
        b = a + 1
        while b < qry and s[b] != 47:
            b += 1
        if not found:
            if b - a == 3 and s[a + 1] == 48 and (s[a + 2] == 49 or s[a + 2] == 48):
                found = 1
            else:
                a = b
                continue
        # segment s[a+1:b] is an AI, the next one its value
        if _read_ai(s, b, a + 1, &ai, &dg) or a + 1 + dg != b:
            _fail(o, UNKNOWN_AI, base + a + 1, -1)
            o.form = DIGITAL_LINK
            return
        c = b + 1
        d2 = c
        while d2 < qry and s[d2] != 47:
            d2 += 1
        if b >= qry or d2 == c:
            _fail(o, BAD_AI_VALUE, base + b, ai)
            o.form = DIGITAL_LINK
            return
        m = _pct_decode(s + c, d2 - c, s + dec + used)
        if m < 0:
            _fail(o, BAD_AI_VALUE, base + c - m - 1, ai)
            o.form = DIGITAL_LINK
            return
        if ai == 1 and (m == 8 or m == 12 or m == 13):  # GTIN-8/12/13: pad to 14 digits
            memmove(s + dec + used + 14 - m, s + dec + used, m)
            memset(s + dec + used, 48, 14 - m)
            m = 14
        if _add_ai(P, o, s, ai, dg, <int>(dec + used), <int>m, base, <int>c):
            o.form = DIGITAL_LINK
            return
        used += m
        a = d2
    if found:
        o.form = DIGITAL_LINK
        # query attributes: k=v&k=v, numeric keys are AIs, others ignored
        a = qry + 1
        while a < end:
            b = a
            while b < end and s[b] != 38:
                b += 1
            c = a
            while c < b and s[c] != 61:
                c += 1
            if c < b and not _read_ai(s, c, a, &ai, &dg) and a + dg == c:
                m = _pct_decode(s + c + 1, b - c - 1, s + dec + used)
                if m < 0:
                    _fail(o, BAD_AI_VALUE, base + c + 1, ai)
                    return
                if _add_ai(P, o, s, ai, dg, <int>(dec + used), <int>m, base, <int>(c + 1)):
                    return
                used += m
            a = b + 1
        return
    # Not a Digital Link: the code is the last run of letters and digits of the
    # URL (…?code=<code>) or, failing that, of its path (…/<code>?from=qr).
    o.form = URL
    cdef Py_ssize_t ends[2]
    ends[0] = end
    ends[1] = qry
    for k in range(2):
        b = ends[k]
        a = b
        while a > path and (_digit(s[a - 1]) or 65 <= _upper(s[a - 1]) <= 90):
            a -= 1
        if a == b:
            continue
        _match_bare(P, s + a, b - a, base + <int>a, o)
        if o.fault != WRONG_LENGTH:
            return
        o.fault = OK
    _fail(o, UNKNOWN_FORMAT, base + <int>path, -1)


cdef void _resolve_gs1(const parser_t *P, const uint8_t *s, scan_t *o) noexcept nogil:
    """GTIN + serial as the code; one of our GS1 schemes when the serial fits it."""
    cdef int k, g = -1, sr = -1, si, pos
    cdef uint8_t expect[2]
    for k in range(o.nais):
        if o.ai[k] == 1:
            g = k
        elif o.ai[k] == 21:
            sr = k
    if g < 0:
        return  # SSCC or other GS1 data: parsed, not a serialised trade item
    if gs1_check(s + o.ai_start[g], 13, expect) != 1 or expect[0] != s[o.ai_start[g] + 13]:
        _fail(o, CHECK_MISMATCH, o.ai_start[g] + 13, 1)
        return
    if sr < 0:
        return
    if 14 + o.ai_len[sr] > MAX_CODE:
        return
    memcpy(o.code, s + o.ai_start[g], 14)
    memcpy(o.code + 14, s + o.ai_start[sr], o.ai_len[sr])
    o.code_len = 14 + o.ai_len[sr]
    cdef uint64_t fits = 0
    cdef int nfit = 0
    for si in range(P.nschemes):
        if not P.schemes[si].gs1 or P.schemes[si].serial_len != o.ai_len[sr]:
            continue
        for pos in range(o.ai_len[sr]):
            if not P.schemes[si].serial_allowed[s[o.ai_start[sr] + pos]]:
                break
        else:
            if nfit == 0:
                o.scheme = si
            fits |= (<uint64_t>1) << si
            nfit += 1
    if nfit > 1:  # several GS1 schemes of ours take this serial: parser.py decides
        o.candidates = fits


# -- one scan ------------------------------------------------------------------------

cdef inline void _reset(scan_t *o) noexcept nogil:
    o.fault = OK
    o.form = NO_FORM
    o.scheme = -1
    o.field = -1
    o.position = -1
    o.nais = 0
    o.code_len = 0
    o.norm_len = 0
    o.first_sep = -1
    o.candidates = 0


cdef void _parse_one(const parser_t *P, const uint8_t *src, Py_ssize_t n, uint8_t *norm,
                     scan_t *o) noexcept nogil:
    cdef Py_ssize_t m, i, base = 0
    cdef uint8_t *s
    cdef bint gs1 = False
    cdef scan_t trial
    _reset(o)
    if n > MAX_SCAN:
        _fail(o, TOO_LONG, MAX_SCAN, -1)
        return
    m = _normalise(src, n, norm)
    if m < 0:
        _fail(o, NOT_UTF8, <int>(-m - 1), -1)
        return
    o.norm_len = <int16_t>m
    if m == 0:
        _fail(o, EMPTY, -1, -1)
        return
    s = norm
    # ']' + a letter + a modifier character: a symbology identifier (ISO/IEC 15424);
    # anything else (']a' and a multi-byte character) is not one, and stays in the scan
    if m >= 3 and s[0] == 93 and 65 <= _upper(s[1]) <= 90 and (_digit(s[2]) or 65 <= _upper(s[2]) <= 90):
        gs1 = (s[1] == 100 and s[2] == 50) or (s[1] == 81 and s[2] == 51) or \
              (s[1] == 67 and s[2] == 49) or (s[1] == 101 and s[2] == 48) or \
              (s[1] == 74 and s[2] == 49)
        s += 3
        base = 3
        m -= 3
        if m == 0:
            _fail(o, EMPTY, -1, -1)
            return
    if gs1 or memchr(s, GS, m) != NULL:  # only GS1 data carries FNC1 as GS
        _element(P, s, m, <int>base, o)
    elif s[0] == 40:
        _hri(P, s, m, <int>base, o)
    elif _is_url(s, m):
        _url(P, s, m, <int>base, o)
        if o.form == URL:
            return
    else:
        for i in range(m):
            if s[i] == 44 or s[i] == 59 or s[i] == 10 or s[i] == 13:
                o.form = QR_FIELDS
                o.first_sep = <int16_t>(base + i)
                _match_bare(P, s, i, <int>base, o)
                return
        o.form = BARE
        _match_bare(P, s, m, <int>base, o)
        # Not a bare code, and it starts with AI 00, 01 or 02 (SSCC, GTIN): an
        # element string sent without a symbology identifier or GS. It wins if
        # it reads cleanly (GTIN check digit included); its own fault is
        # reported only when no scheme had this length. Other leading AIs are
        # not guessed at: "8177..." would read as AI 8177.
        if o.fault == OK or m < 16 or s[0] != 48 or not (48 <= s[1] <= 50):
            return
        _reset(&trial)
        _element(P, s, m, <int>base, &trial)
        if trial.fault == OK:
            _resolve_gs1(P, norm, &trial)
        if trial.fault == OK or o.fault == WRONG_LENGTH:
            trial.norm_len = o.norm_len
            memcpy(o, &trial, sizeof(scan_t))
        return
    if o.fault == OK:
        _resolve_gs1(P, norm, o)


# -- Python surface ----------------------------------------------------------------------

SCAN_DTYPE = np.dtype([
    ("fault", np.uint8), ("form", np.uint8), ("scheme", np.int16), ("field", np.int16),
    ("position", np.int32), ("code", f"S{MAX_CODE}"), ("expiry", "S6"), ("lot", "S20"),
    # bit i: the code fits scheme i too; set only when it fits more than one (see _match_bare)
    ("candidates", np.uint64),
])


# GS1 character sets 39 and 64 (General Specifications 7.11), for AI components Y and Z
CSET_39 = b"#-/0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
CSET_64 = b"-0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ_abcdefghijklmnopqrstuvwxyz="
_KINDS = {"N": 1, "X": 2, "Y": 3, "Z": 4}


cdef void _load_ai_table(dict table) except *:
    """Fill the C table from the dictionary's AIs (tracecode.schemes.gs1_ai)."""
    cdef tc_ai *t
    cdef int p
    memset(tc_ai_table, 0, sizeof(tc_ai_table))
    for code, spec in table.items():
        t = &tc_ai_table[_slot(int(code), len(code))]
        if len(spec.components) > TC_AI_PARTS or spec.max_length > 255:
            raise ValueError(f"AI {code}: format too large for the scan parser's table")
        t.digits = len(code)
        t.predefined = spec.predefined
        t.numeric = spec.numeric
        t.min_len = spec.min_length
        t.max_len = spec.max_length
        t.nparts = len(spec.components)
        for p, c in enumerate(spec.components):
            t.parts[p].kind = _KINDS[c.kind]
            t.parts[p].min = c.min
            t.parts[p].max = c.max
            t.parts[p].optional = c.optional
            # 1 yymmd0, 2 yymmdd, 3 yyyymmdd (gs1_ai.DATE_LINTERS order); 0 none
            t.parts[p].date = ((None,) + gs1_ai.DATE_LINTERS).index(c.date) if c.kind == "N" else 0


_load_ai_table(gs1_ai.TABLE)


cdef int _this_year() noexcept nogil:
    cdef time_t now = time(NULL)
    cdef tm t
    gmtime_r(&now, &t)
    return t.tm_year + 1900


cdef class ScanCore:
    """The C tables for a list of schemes and the bulk loop. Their order only names the
    scheme a fault is reported against; it never picks a reading."""
    cdef parser_t P
    cdef list _keep        # Python buffers the C tables point into
    cdef readonly list names
    # The year the GS1 century rule counts from; 0: the current year (UTC), read
    # at each call, so a long-running server moves with the calendar.
    cdef public int year

    def __init__(self, schemes, bytes gs1_charset):
        cdef int si, f
        cdef scheme_t *sc
        cdef CheckSystem cs
        if len(schemes) > MAX_SCHEMES:
            raise ValueError(f"at most {MAX_SCHEMES} schemes")
        self._keep = []
        self.names = []
        global gs1_check
        from tracecode.checks import GS1
        cs = GS1
        gs1_check = cs.kernel
        self.P.cset[0] = self._table(b"")
        self.P.cset[1] = self._table(b"0123456789")
        self.P.cset[2] = self._table(gs1_charset)
        self.P.cset[3] = self._table(CSET_39)
        self.P.cset[4] = self._table(CSET_64)
        self.year = 0
        self.P.nschemes = 0
        memset(self.P.len_count, 0, sizeof(self.P.len_count))
        for scheme in schemes:
            sc = &self.P.schemes[self.P.nschemes]
            fields = scheme.code_fields
            if len(fields) > MAX_FIELDS or scheme.length > MAX_CODE:
                raise ValueError(f"scheme {scheme.name!r} is too large for the scan parser")
            sc.length = scheme.length
            sc.nfields = len(fields)
            sc.upper = scheme.case_insensitive
            sc.check = NULL
            sc.gs1 = scheme.is_gs1
            pos = 0
            for f, fld in enumerate(fields):
                sc.fields[f].start = pos
                sc.fields[f].length = fld.length
                sc.fields[f].role = ("product", "serial", "check").index(fld.role)
                sc.fields[f].allowed = self._table(fld.alphabet.encode("ascii"))
                if fld.role == "check":
                    cs = scheme.check_system
                    sc.check = cs.kernel
                    sc.check_field = f
                    sc.check_len = fld.length
                    sc.check_to = pos
                    sc.check_from = 0 if fld.over == "code" else scheme.offset(scheme.serial.name)
                pos += fld.length
            sc.serial_len = scheme.serial.length
            sc.serial_allowed = self._table(scheme.serial.alphabet.encode("ascii"))
            self.names.append(scheme.name)
            self.P.len_count[sc.length] += 1
            self.P.nschemes += 1

    cdef const uint8_t *_table(self, bytes chars):
        t = bytearray(256)
        for ch in chars:
            t[ch] = 1
        b = bytes(t)
        self._keep.append(b)
        return <const uint8_t *><const char *>b

    def parse_one(self, const uint8_t[::1] data):
        """One scan without the numpy record: (fault, form, scheme, field, position, code).

        The single-scan verification path; product field rules and counters are
        the caller's (see ScanParser.parse_many for the bulk equivalent)."""
        cdef uint8_t norm[MAX_SCAN * 3]
        cdef scan_t o
        cdef Py_ssize_t n = data.shape[0]
        self.P.year = self.year or _this_year()
        _parse_one(&self.P, &data[0] if n else NULL, n, norm, &o)
        return o.fault, o.form, o.scheme, o.field, o.position, bytes(o.code[:o.code_len])

    def parse_code(self, const uint8_t[::1] data):
        """One scan to (fault, scheme, code, candidates): parse_one's reading plus the
        bits of every scheme the code fits when it fits more than one (else 0)."""
        cdef uint8_t norm[MAX_SCAN * 3]
        cdef scan_t o
        cdef Py_ssize_t n = data.shape[0]
        self.P.year = self.year or _this_year()
        _parse_one(&self.P, &data[0] if n else NULL, n, norm, &o)
        return o.fault, o.scheme, bytes(o.code[:o.code_len]), o.candidates

    def parse_packed(self, const uint8_t[::1] data, const long long[::1] offsets, bint detail=False,
                     out=None, long long[::1] ambiguous=None):
        """Parse scans data[offsets[i]:offsets[i+1]]; a SCAN_DTYPE record array
        (``out`` if given: reuse one to skip allocating and first-touching it).
        ``ambiguous[0]``, if given, receives how many scans fit more than one scheme
        (0 almost always: parser.py's rules run only when it is not).

        With detail, also the normalised text and the AI values of each scan
        (for the single-scan API; the bulk path never builds them).
        """
        cdef Py_ssize_t count = offsets.shape[0] - 1, i, k, start, n
        cdef uint8_t norm[MAX_SCAN * 3]
        cdef scan_t o
        if count < 0:
            raise ValueError("offsets needs at least one entry")
        if out is None:
            out = np.empty(count, SCAN_DTYPE)
        elif out.dtype != SCAN_DTYPE or out.shape != (count,) or not out.flags.c_contiguous:
            raise ValueError(f"out must be a contiguous SCAN_DTYPE array of {count} records")
        cdef uint8_t[:, ::1] rec = out.view(np.uint8).reshape(count, SCAN_DTYPE.itemsize)
        cdef Py_ssize_t o_code = SCAN_DTYPE.fields["code"][1]
        cdef Py_ssize_t o_exp = SCAN_DTYPE.fields["expiry"][1]
        cdef Py_ssize_t o_lot = SCAN_DTYPE.fields["lot"][1]
        cdef Py_ssize_t o_cand = SCAN_DTYPE.fields["candidates"][1]
        cdef Py_ssize_t fits_several = 0
        cdef uint8_t *r
        cdef Py_ssize_t SCAN_SIZE = SCAN_DTYPE.itemsize
        details = [] if detail else None
        self.P.year = self.year or _this_year()
        for i in range(count):
            start = offsets[i]
            n = offsets[i + 1] - start
            if start < 0 or n < 0 or start + n > data.shape[0]:
                raise ValueError(f"offsets[{i}:{i + 2}] fall outside the data")
        with nogil:
            for i in range(count):
                start = offsets[i]
                n = offsets[i + 1] - start
                _parse_one(&self.P, &data[start] if n else NULL, n, norm, &o)
                r = &rec[i, 0]
                memset(r, 0, SCAN_SIZE)
                r[0] = o.fault
                r[1] = o.form
                memcpy(r + 2, &o.scheme, 2)
                memcpy(r + 4, &o.field, 2)
                memcpy(r + 6, &o.position, 4)
                memcpy(r + o_code, o.code, o.code_len)
                if o.candidates:
                    memcpy(r + o_cand, &o.candidates, 8)
                    fits_several += 1
                for k in range(o.nais):
                    if o.ai[k] == 17 and o.ai_len[k] == 6:
                        memcpy(r + o_exp, norm + o.ai_start[k], 6)
                    elif o.ai[k] == 10 and o.ai_len[k] <= 20:
                        memcpy(r + o_lot, norm + o.ai_start[k], o.ai_len[k])
                if detail:
                    with gil:
                        details.append((bytes(norm[:o.norm_len]),
                                        [(o.ai[k], bytes(norm[o.ai_start[k]:o.ai_start[k] + o.ai_len[k]]))
                                         for k in range(o.nais)],
                                        o.first_sep))
        if ambiguous is not None:
            ambiguous[0] = fits_several
        return (out, details) if detail else out
