"""Check-character systems: the registry and the Python and bulk API over the
C kernels (gs1_mod10.pxd, luhn.pxd, verhoeff.pxd, damm.pxd, iso7064.pxd).

Doctest examples live in tracecode.checks (doctests in a .pyx are not collected).
"""
import numpy as np

from tracecode.checks.kernels cimport calc_fn
from tracecode.checks.gs1_mod10 cimport gs1_calc, gs1_verify
from tracecode.checks.luhn cimport luhn_calc, luhn_verify, luhn36_calc, luhn36_verify
from tracecode.checks.verhoeff cimport verhoeff_calc, verhoeff_verify, verhoeff_verify4
from tracecode.checks.damm cimport damm_calc, damm_verify, damm_verify4
from tracecode.checks.iso7064 cimport (
    mod11_2_calc, mod11_2_verify, mod11_2_verify4, mod37_2_calc, mod37_2_verify,
    mod37_2_verify4, mod97_10_calc, mod97_10_verify, mod11_10_calc, mod11_10_verify,
    mod11_10_verify4, mod37_36_calc, mod37_36_verify, mod37_36_verify4)

from tracecode.errors import InvalidChecksum, InvalidFormat, InvalidLength, UnknownCheckSystem

# Whole code, n > check_len: 1 valid, 0 wrong check, -(i + 1) for a bad code[i].
ctypedef Py_ssize_t (*verify_fn)(const unsigned char *code, Py_ssize_t n) noexcept nogil
# Four codes of one length n at stride w: verdicts (1/0) to out[0:4].
ctypedef void (*verify4_fn)(const unsigned char *code, Py_ssize_t w, Py_ssize_t n,
                            unsigned char *out) noexcept nogil

cdef enum:
    MAX_CHECK_LEN = 2

DIGITS = "0123456789"
ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"

# compact(): drop spaces and '-', upper-case ASCII only (str.upper() would turn
# 'ſ' into 'S' or 'ß' into 'SS', letting look-alikes through).
_COMPACT = str.maketrans("abcdefghijklmnopqrstuvwxyz", "ABCDEFGHIJKLMNOPQRSTUVWXYZ", " -")


cdef verify_fn _verify_of(calc_fn calc) noexcept nogil:
    """The whole-code kernel that goes with a calc kernel."""
    if calc == gs1_calc: return gs1_verify
    if calc == luhn_calc: return luhn_verify
    if calc == luhn36_calc: return luhn36_verify
    if calc == verhoeff_calc: return verhoeff_verify
    if calc == damm_calc: return damm_verify
    if calc == mod11_2_calc: return mod11_2_verify
    if calc == mod37_2_calc: return mod37_2_verify
    if calc == mod97_10_calc: return mod97_10_verify
    if calc == mod11_10_calc: return mod11_10_verify
    if calc == mod37_36_calc: return mod37_36_verify
    return NULL


cdef inline Py_ssize_t _code_len(const unsigned char *row, Py_ssize_t w) noexcept nogil:
    # NUL padding is trailing only, as numpy's S dtype: an inner NUL is a bad character.
    while w > 0 and row[w - 1] == 0:
        w -= 1
    return w


cdef inline void _validate_loop(verify_fn verify, Py_ssize_t check_len, const unsigned char *row,
                                Py_ssize_t count, Py_ssize_t w, unsigned char *out) noexcept nogil:
    cdef Py_ssize_t r, n
    for r in range(count):
        n = _code_len(row, w)
        out[r] = n > check_len and verify(row, n) == 1
        row += w


# Systems whose step is a dependent table lookup go four codes at a time
# when the four have one length (the usual fixed-length batch).
cdef inline void _validate_loop4(verify4_fn verify4, verify_fn verify, const unsigned char *row,
                                 Py_ssize_t count, Py_ssize_t w, unsigned char *out) noexcept nogil:
    cdef Py_ssize_t r = 0, n
    while r + 4 <= count:
        n = _code_len(row, w)
        if (n > 1 and _code_len(row + w, w) == n and _code_len(row + 2 * w, w) == n
                and _code_len(row + 3 * w, w) == n):
            verify4(row, w, n, out + r)
        else:  # mixed lengths: one at a time (every such system has one check character)
            _validate_loop(verify, 1, row, 4, w, out + r)
        r += 4
        row += 4 * w
    _validate_loop(verify, 1, row, count - r, w, out + r)


cdef void _validate_rows(verify_fn verify, Py_ssize_t check_len,
                         const unsigned char[:, ::1] codes, unsigned char *out) noexcept nogil:
    cdef Py_ssize_t r, count = codes.shape[0], w = codes.shape[1]
    if w <= check_len:  # too short to hold a payload; also covers w == 0
        for r in range(count):
            out[r] = 0
        return
    cdef const unsigned char *row = &codes[0, 0]
    # One call per system with a constant kernel, so the C compiler inlines the
    # kernel into the row loop instead of calling through a pointer per code.
    if verify == gs1_verify: _validate_loop(gs1_verify, 1, row, count, w, out)
    elif verify == luhn_verify: _validate_loop(luhn_verify, 1, row, count, w, out)
    elif verify == luhn36_verify: _validate_loop(luhn36_verify, 1, row, count, w, out)
    elif verify == verhoeff_verify: _validate_loop4(verhoeff_verify4, verhoeff_verify, row, count, w, out)
    elif verify == damm_verify: _validate_loop4(damm_verify4, damm_verify, row, count, w, out)
    elif verify == mod11_2_verify: _validate_loop4(mod11_2_verify4, mod11_2_verify, row, count, w, out)
    elif verify == mod37_2_verify: _validate_loop4(mod37_2_verify4, mod37_2_verify, row, count, w, out)
    elif verify == mod97_10_verify: _validate_loop(mod97_10_verify, 2, row, count, w, out)
    elif verify == mod11_10_verify: _validate_loop4(mod11_10_verify4, mod11_10_verify, row, count, w, out)
    elif verify == mod37_36_verify: _validate_loop4(mod37_36_verify4, mod37_36_verify, row, count, w, out)
    else: _validate_loop(verify, check_len, row, count, w, out)


# Returns -1 when every row went well, else the first bad row with its error
# in err[0]: 0 for an empty payload, -(i + 1) for a bad character at i.
cdef inline Py_ssize_t _calc_loop(calc_fn calc, Py_ssize_t check_len, const unsigned char *row,
                                  Py_ssize_t count, Py_ssize_t w, unsigned char *out,
                                  Py_ssize_t *err) noexcept nogil:
    cdef Py_ssize_t r, n, e
    for r in range(count):
        n = _code_len(row, w)
        if n == 0:
            err[0] = 0
            return r
        e = calc(row, n, out)
        if e < 0:
            err[0] = e
            return r
        out += check_len
        row += w
    return -1


cdef Py_ssize_t _calc_rows(calc_fn calc, Py_ssize_t check_len,
                           const unsigned char[:, ::1] payloads, unsigned char *out,
                           Py_ssize_t *err) noexcept nogil:
    cdef Py_ssize_t count = payloads.shape[0], w = payloads.shape[1]
    if w == 0:
        err[0] = 0
        return 0
    cdef const unsigned char *row = &payloads[0, 0]
    # As _validate_rows: a constant kernel per call, inlined into the loop.
    if calc == gs1_calc: return _calc_loop(gs1_calc, 1, row, count, w, out, err)
    if calc == luhn_calc: return _calc_loop(luhn_calc, 1, row, count, w, out, err)
    if calc == luhn36_calc: return _calc_loop(luhn36_calc, 1, row, count, w, out, err)
    if calc == verhoeff_calc: return _calc_loop(verhoeff_calc, 1, row, count, w, out, err)
    if calc == damm_calc: return _calc_loop(damm_calc, 1, row, count, w, out, err)
    if calc == mod11_2_calc: return _calc_loop(mod11_2_calc, 1, row, count, w, out, err)
    if calc == mod37_2_calc: return _calc_loop(mod37_2_calc, 1, row, count, w, out, err)
    if calc == mod97_10_calc: return _calc_loop(mod97_10_calc, 2, row, count, w, out, err)
    if calc == mod11_10_calc: return _calc_loop(mod11_10_calc, 1, row, count, w, out, err)
    if calc == mod37_36_calc: return _calc_loop(mod37_36_calc, 1, row, count, w, out, err)
    return _calc_loop(calc, check_len, row, count, w, out, err)


def _rows(a, what):
    """A (N, w) C-contiguous uint8 view of a 1-D S<w> array or a 2-D uint8 array."""
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{what} must be a numpy array of dtype S<width> (or 2-D uint8), "
                        f"not {type(a).__name__}; e.g. np.array(codes, dtype='S')")
    if a.dtype.kind == "S":
        if a.ndim != 1:
            raise ValueError(f"{what}: an S<width> array must be 1-D, got shape {a.shape}")
        a = np.ascontiguousarray(a)
        return a.view(np.uint8).reshape(a.shape[0], a.dtype.itemsize)
    if a.dtype == np.uint8:
        if a.ndim != 2:
            raise ValueError(f"{what}: a uint8 array must be 2-D (codes, width), got shape {a.shape}")
        return np.ascontiguousarray(a)
    hint = "; encode it first, e.g. a.astype('S')" if a.dtype.kind == "U" else ""
    raise TypeError(f"{what} must have dtype S<width> or uint8, not {a.dtype}{hint}")


def _out(out, n, dtype, what):
    if not isinstance(out, np.ndarray) or out.dtype != dtype:
        raise TypeError(f"out must be a numpy array of dtype {np.dtype(dtype)} for {what}")
    if out.shape != (n,) or not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(f"out must be a writeable C-contiguous array of shape ({n},), "
                         f"got shape {out.shape}")
    return out


cdef class CheckSystem:
    """One check-character system: its C kernel and its Python vocabulary.

    Instances live in SYSTEMS; get one with tracecode.checks.get(name).
    """

    def __init__(self, *args, **kwargs):
        raise TypeError("CheckSystem instances are built in; use tracecode.checks.get(name)")

    def __repr__(self):
        return f"<CheckSystem {self.name!r}>"

    def __reduce__(self):
        return (get, (self.name,))

    def compact(self, str code not None):
        """Strip surrounding whitespace, drop inner spaces and '-', upper-case ASCII letters."""
        return code.strip().translate(_COMPACT)

    def calc(self, str payload not None):
        """The check character(s) of an already compact payload."""
        cdef unsigned char out[MAX_CHECK_LEN]
        if not payload:
            raise InvalidLength(f"{self.name}: empty payload")
        # Non-ASCII becomes '?', outside every alphabet: the kernel reports the first bad character.
        b = payload.encode("ascii", "replace")
        cdef const unsigned char *p = b
        cdef Py_ssize_t r = self.kernel(p, len(b), out)
        if r < 0:
            self._bad_char(payload, -r - 1, "payload")
        return (<char *>out)[:r].decode("ascii")

    def validate(self, str code not None):
        """The compact code if its check character(s) are right; raises otherwise."""
        c = self.compact(code)
        if len(c) <= self.check_len:
            raise InvalidLength(f"{self.name}: a code needs at least {self.check_len + 1} "
                                f"characters, got {len(c)}")
        b = c.encode("ascii", "replace")
        cdef const unsigned char *p = b
        cdef Py_ssize_t r = _verify_of(self.kernel)(p, len(b))
        if r < 0:
            self._bad_char(c, -r - 1, "code")
        if r == 0:
            raise InvalidChecksum(f"{self.name}: wrong check character(s)")
        return c

    def is_valid(self, code):
        """Whether validate() accepts the code; never raises."""
        if not isinstance(code, str):
            return False
        try:
            self.validate(code)
        except (InvalidLength, InvalidFormat, InvalidChecksum):
            return False
        return True

    def calc_many(self, payloads, out=None):
        """Check characters for many payloads in one call, as an S<check_len> array.

        payloads: 1-D S<w> array (a payload ends before its trailing NULs) or a
        2-D C-contiguous uint8 array (N, w) with the same convention. Payloads
        must be compact. Raises InvalidFormat (InvalidLength for an empty one)
        naming the first bad row; `out`, if given, is filled and returned.
        """
        rows = _rows(payloads, "payloads")
        cdef const unsigned char[:, ::1] mv = rows
        cdef Py_ssize_t n = mv.shape[0], k = self.check_len, bad, err = 0
        cdef calc_fn kernel = self.kernel
        dtype = np.dtype(f"S{k}")
        out = np.empty(n, dtype) if out is None else _out(out, n, dtype, "calc_many")
        cdef unsigned char[:, ::1] o = out.view(np.uint8).reshape(n, k)
        if n == 0:
            return out
        with nogil:
            bad = _calc_rows(kernel, k, mv, &o[0, 0], &err)
        if bad >= 0:
            p = bytes(rows[bad]).rstrip(b"\0").decode("latin-1")
            if err == 0:
                raise InvalidLength(f"{self.name}: empty payload in row {bad}")
            self._bad_char(p, -err - 1, f"payload in row {bad}")
        return out

    def validate_many(self, codes, out=None):
        """Whether each code is valid, as a bool array; never raises for bad codes.

        codes: as calc_many's payloads, compact, check character(s) last. A code
        with a bad character or too short is simply False. `out`, if given (bool,
        shape (N,)), is filled and returned: reuse it to skip the allocation.
        """
        cdef const unsigned char[:, ::1] mv = _rows(codes, "codes")
        cdef Py_ssize_t n = mv.shape[0]
        cdef verify_fn verify = _verify_of(self.kernel)
        out = np.empty(n, np.bool_) if out is None else _out(out, n, np.bool_, "validate_many")
        cdef unsigned char[::1] o = out.view(np.uint8)
        if n == 0:
            return out
        with nogil:
            _validate_rows(verify, self.check_len, mv, &o[0])
        return out

    def _bad_char(self, str s, Py_ssize_t pos, what):
        raise InvalidFormat(f"{self.name}: {s[pos]!r} at position {pos} of the {what} "
                            f"is not allowed (payload {self.alphabet!r}, "
                            f"check {self.check_alphabet!r})", position=pos)


cdef CheckSystem _system(str name, int check_len, str alphabet, str check_alphabet, calc_fn calc):
    cdef CheckSystem s = CheckSystem.__new__(CheckSystem)
    s.name, s.check_len, s.alphabet, s.check_alphabet = name, check_len, alphabet, check_alphabet
    s.kernel = calc
    assert _verify_of(calc) != NULL
    return s


GS1 = _system("gs1", 1, DIGITS, DIGITS, gs1_calc)
LUHN = _system("luhn", 1, DIGITS, DIGITS, luhn_calc)
LUHN36 = _system("luhn36", 1, ALNUM, ALNUM, luhn36_calc)
VERHOEFF = _system("verhoeff", 1, DIGITS, DIGITS, verhoeff_calc)
DAMM = _system("damm", 1, DIGITS, DIGITS, damm_calc)
MOD11_2 = _system("mod11_2", 1, DIGITS, DIGITS + "X", mod11_2_calc)
MOD37_2 = _system("mod37_2", 1, ALNUM, ALNUM + "*", mod37_2_calc)
MOD97_10 = _system("mod97_10", 2, ALNUM, DIGITS, mod97_10_calc)
MOD11_10 = _system("mod11_10", 1, DIGITS, DIGITS, mod11_10_calc)
MOD37_36 = _system("mod37_36", 1, ALNUM, ALNUM, mod37_36_calc)

SYSTEMS = {s.name: s for s in (GS1, LUHN, LUHN36, VERHOEFF, DAMM, MOD11_2, MOD37_2,
                               MOD97_10, MOD11_10, MOD37_36)}


def get(name):
    """The CheckSystem called `name`; UnknownCheckSystem (a KeyError) listing the known names otherwise."""
    try:
        return SYSTEMS[name]
    except (KeyError, TypeError):
        raise UnknownCheckSystem(f"unknown check system {name!r}; known: {', '.join(SYSTEMS)}") from None

