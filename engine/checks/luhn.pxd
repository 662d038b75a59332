# Luhn (ISO/IEC 7812-1) and Luhn mod N. From the right, every second value is
# doubled and its base-N digits summed (2v, or 2v - N + 1 when 2v >= N); the
# total must be 0 mod N, and the check character (doubling from the first
# payload character to its left) makes it so. Detects every single
# substitution and every adjacent transposition except of the values 0 and
# N - 1: '09'/'90' for digits, '0Z'/'Z0' for luhn36 (0-9A-Z, as python-stdnum's
# luhn with that alphabet).
from tracecode.checks.alphabets cimport tc_digit, tc_alnum, tc_chars, first_bad

cdef extern from *:
    """
    #ifndef TRACECODE_CHECKS_LUHN_H
    #define TRACECODE_CHECKS_LUHN_H
    /* byte -> digit sum of twice its value (TC_BAD outside the alphabet), so a
       doubled position costs one lookup, like a plain one */
    static const unsigned char tc_luhn10_dbl[] = {
        TC_B16, TC_B16, TC_B16,
        0, 2, 4, 6, 8, 1, 3, 5, 7, 9, TC_BAD, TC_BAD, TC_BAD, TC_BAD, TC_BAD, TC_BAD,
        TC_B16, TC_B16, TC_B16, TC_B16, TC_HIGH};
    static const unsigned char tc_luhn36_dbl[] = {
        TC_B16, TC_B16, TC_B16,
        0, 2, 4, 6, 8, 10, 12, 14, 16, 18, TC_BAD, TC_BAD, TC_BAD, TC_BAD, TC_BAD, TC_BAD,
        TC_BAD, 20, 22, 24, 26, 28, 30, 32, 34, 1, 3, 5, 7, 9, 11, 13,  /* @, A-O */
        15, 17, 19, 21, 23, 25, 27, 29, 31, 33, 35, TC_BAD, TC_BAD, TC_BAD, TC_BAD, TC_BAD,
        TC_B16, TC_B16, TC_HIGH};
    _Static_assert(sizeof(tc_luhn10_dbl) == 256 && sizeof(tc_luhn36_dbl) == 256,
                   "tracecode: ASCII tables must have 256 entries");
    #endif
    """
    const unsigned char tc_luhn10_dbl[256]
    const unsigned char tc_luhn36_dbl[256]


# Luhn terms of p[0:n] summed, p[n-1] doubled if `odd_last`. Returns -(i + 1)
# for the first p[i] outside the alphabet, else 0 with the sum in total[0].
cdef inline Py_ssize_t luhn_sum(const unsigned char *p, Py_ssize_t n, bint odd_last,
                                const unsigned char *plain, const unsigned char *doubled,
                                unsigned int radix, size_t *total) noexcept nogil:
    cdef size_t s = 0
    cdef unsigned int v0, v1, bad = 0
    cdef Py_ssize_t i = n - 1
    if odd_last and i >= 0:
        v0 = doubled[p[i]]
        bad |= v0
        s += v0
        i -= 1
    while i >= 1:  # pairs from the right: plain, then doubled
        v0 = plain[p[i]]
        v1 = doubled[p[i - 1]]
        bad |= v0 | v1
        s += v0 + v1
        i -= 2
    if i == 0:
        v0 = plain[p[0]]
        bad |= v0
        s += v0
    if bad & 0x80:
        return first_bad(p, n, plain, radix)
    total[0] = s
    return 0


cdef inline Py_ssize_t luhn_calc(const unsigned char *payload, Py_ssize_t n,
                                 unsigned char *out) noexcept nogil:
    cdef size_t s = 0
    cdef Py_ssize_t r = luhn_sum(payload, n, True, tc_digit, tc_luhn10_dbl, 10, &s)
    if r < 0:
        return r
    out[0] = tc_chars[(10 - s % 10) % 10]
    return 1


cdef inline Py_ssize_t luhn36_calc(const unsigned char *payload, Py_ssize_t n,
                                   unsigned char *out) noexcept nogil:
    cdef size_t s = 0
    cdef Py_ssize_t r = luhn_sum(payload, n, True, tc_alnum, tc_luhn36_dbl, 36, &s)
    if r < 0:
        return r
    out[0] = tc_chars[(36 - s % 36) % 36]
    return 1


# Whole code (n >= 2): 1 valid, 0 wrong check character, -(i + 1) for the
# first bad code[i].
cdef inline Py_ssize_t luhn_verify(const unsigned char *code, Py_ssize_t n) noexcept nogil:
    cdef size_t s = 0
    cdef Py_ssize_t r = luhn_sum(code, n, False, tc_digit, tc_luhn10_dbl, 10, &s)
    return r if r < 0 else s % 10 == 0


cdef inline Py_ssize_t luhn36_verify(const unsigned char *code, Py_ssize_t n) noexcept nogil:
    cdef size_t s = 0
    cdef Py_ssize_t r = luhn_sum(code, n, False, tc_alnum, tc_luhn36_dbl, 36, &s)
    return r if r < 0 else s % 36 == 0
