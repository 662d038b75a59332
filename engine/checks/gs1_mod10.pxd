# GS1 mod 10 (GTIN-8/12/13/14, SSCC, GLN). Digits get weights 3, 1, 3, ... from
# the right of the payload, so the check digit itself has weight 1; the check
# digit is (10 - sum % 10) % 10. Detects every single-digit substitution (3 and
# 1 are units mod 10) and every adjacent transposition except of two digits
# differing by 5, where 2 * (a - b) = 0 mod 10.
from tracecode.checks.alphabets cimport tc_digit, first_bad


# Weighted sum of p[0:n], p[n-1] taking weight 3 if `odd_last` else 1.
# Returns -(i + 1) for the first non-digit p[i], else 0 with the sum in total[0].
cdef inline Py_ssize_t gs1_sum(const unsigned char *p, Py_ssize_t n, bint odd_last,
                               size_t *total) noexcept nogil:
    # Two plain sums, weighted once at the end; no branch per character.
    cdef size_t w1 = 0, w3 = 0
    cdef unsigned int v0, v1, bad = 0
    cdef Py_ssize_t i = n - 1
    if odd_last and i >= 0:
        v0 = tc_digit[p[i]]
        bad |= v0
        w3 += v0
        i -= 1
    while i >= 1:  # pairs from the right: weight 1, then 3
        v0 = tc_digit[p[i]]
        v1 = tc_digit[p[i - 1]]
        bad |= v0 | v1
        w1 += v0
        w3 += v1
        i -= 2
    if i == 0:
        v0 = tc_digit[p[0]]
        bad |= v0
        w1 += v0
    if bad & 0x80:
        return first_bad(p, n, tc_digit, 10)
    total[0] = w1 + 3 * w3
    return 0


cdef inline Py_ssize_t gs1_calc(const unsigned char *payload, Py_ssize_t n,
                                unsigned char *out) noexcept nogil:
    cdef size_t s = 0
    cdef Py_ssize_t r = gs1_sum(payload, n, True, &s)
    if r < 0:
        return r
    out[0] = <unsigned char>(48 + (10 - s % 10) % 10)
    return 1


# Whole code (payload + check digit, n >= 2): 1 valid, 0 wrong check digit,
# -(i + 1) for the first non-digit code[i].
cdef inline Py_ssize_t gs1_verify(const unsigned char *code, Py_ssize_t n) noexcept nogil:
    cdef size_t s = 0
    cdef Py_ssize_t r = gs1_sum(code, n, False, &s)
    return r if r < 0 else s % 10 == 0
