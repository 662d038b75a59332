# ISO/IEC 7064 check character systems, matching python-stdnum.iso7064.
#
# Pure systems MOD 11-2, MOD 37-2 (one check character) and MOD 97-10 (two):
# the code read as a number in base r (2, 2, 10) must be 1 mod M (11, 37, 97).
# M is prime and above every character value, so all single substitutions and
# all adjacent transpositions are detected (for MOD 97-10 with numeric
# payloads; a letter there counts as its two decimal digits 10..35). The check
# alphabets add 'X' (= 10, MOD 11-2) and '*' (= 36, MOD 37-2), accepted only in
# the check position.
#
# Hybrid systems MOD 11,10 (digits) and MOD 37,36 (0-9A-Z): per character
# s <- ((s or M) * 2 mod (M + 1) + v) mod M, starting at M/2; valid when s = 1.
# They detect all single substitutions but not all adjacent transpositions
# (measured exhaustively in tests/test_checks.py): swapping v and v + 1 mod M
# (MOD 11,10: 01 12 23 34 45 56 67 78 89 90; MOD 37,36: 01 12 ... 9A AB ... YZ
# Z0) goes unseen exactly when the running value after the pair's first
# character is M/2 (5, 18) with v first, or M/2 + 1 with v + 1 first: in one
# context out of M. No other pair is ever missed.
from tracecode.checks.alphabets cimport tc_digit, tc_digit_x, tc_alnum, tc_alnum_star, tc_chars

cdef extern from *:
    """
    #ifndef TRACECODE_CHECKS_ISO7064_H
    #define TRACECODE_CHECKS_ISO7064_H
    /* Pure MOD M-2 carried as t = 2 * s mod M: the step s <- (2 s + v) mod M
       becomes t <- tc_pure_M[t + v] with tc_pure_M[x] = 2 * (x mod M) mod M,
       one add and one load on the dependency chain. Each step table ends in
       TC_POISON (alphabets.pxd) for the bulk loops. */
    static const unsigned char tc_pure11[] = {
        0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 0, 2, 4, 6, 8, 10, 1, 3, 5, 7, TC_POISON};
    static const unsigned char tc_pure37[] = {
        0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36,
        1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33, 35,
        0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36,
        1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33, TC_POISON};
    /* Hybrid MOD M+1,M carried as t = (s or M) * 2 mod (M + 1), which starts
       at M: s <- (t + v) mod M and t <- tc_hybrid_M[t + v] with
       tc_hybrid_M[x] = ((x mod M) or M) * 2 mod (M + 1). */
    static const unsigned char tc_hybrid10[] = {
        9, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 2, 4, 6, 8, 10, 1, 3, 5, 7, TC_POISON};
    static const unsigned char tc_hybrid36[] = {
        35, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36,
        1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33,
        35, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30, 32, 34, 36,
        1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31, 33, TC_POISON};
    _Static_assert(sizeof(tc_pure11) == 21 + 512 && sizeof(tc_pure37) == 73 + 512 &&
                   sizeof(tc_hybrid10) == 20 + 512 && sizeof(tc_hybrid36) == 72 + 512,
                   "tracecode: ISO 7064 step tables");
    #endif
    """
    const unsigned char tc_pure11[533]
    const unsigned char tc_pure37[585]
    const unsigned char tc_hybrid10[532]
    const unsigned char tc_hybrid36[584]


# Folds p[0:n] through step table `step` from t = t0 (see the tables above).
# Returns -(i + 1) for p[i] outside the alphabet, else 0 with t in t_out[0].
cdef inline Py_ssize_t iso7064_fold(const unsigned char *p, Py_ssize_t n,
                                    const unsigned char *values, unsigned int radix,
                                    const unsigned char *step, unsigned int t0,
                                    unsigned int *t_out) noexcept nogil:
    cdef Py_ssize_t i
    cdef unsigned int v, t = t0
    for i in range(n):
        v = values[p[i]]
        if v >= radix:
            return -(i + 1)
        t = step[t + v]
    t_out[0] = t
    return 0


# Whole code (n >= 2): 1 valid, 0 wrong check, -(i + 1) bad code[i]. The
# check character (`check_values`, `nchecks` symbols) must bring s = (t + v)
# mod M to 1.
cdef inline Py_ssize_t iso7064_verify(const unsigned char *code, Py_ssize_t n,
                                      const unsigned char *values, unsigned int radix,
                                      const unsigned char *check_values, unsigned int nchecks,
                                      const unsigned char *step, unsigned int t0,
                                      unsigned int modulus) noexcept nogil:
    cdef unsigned int t = 0, v
    cdef Py_ssize_t r = iso7064_fold(code, n - 1, values, radix, step, t0, &t)
    if r < 0:
        return r
    v = check_values[code[n - 1]]
    if v >= nchecks:
        return -n
    return (t + v) % modulus == 1


# Verdicts (1 valid, 0 not) of four codes of the same length n >= 2 at code,
# code + w, code + 2w and code + 3w: four independent chains of lookups
# overlap. A bad character poisons its chain (TC_POISON), so no test per character.
cdef inline void iso7064_verify4(const unsigned char *code, Py_ssize_t w, Py_ssize_t n,
                                 const unsigned char *values, const unsigned char *check_values,
                                 const unsigned char *step, size_t t0, unsigned int modulus,
                                 unsigned char *out) noexcept nogil:
    cdef const unsigned char *p = code
    cdef const unsigned char *end = code + n - 1
    cdef Py_ssize_t w2 = 2 * w, w3 = 3 * w
    cdef size_t s0 = t0, s1 = t0, s2 = t0, s3 = t0, v0, v1, v2, v3
    while p != end:
        s0 = step[s0 + values[p[0]]]
        s1 = step[s1 + values[p[w]]]
        s2 = step[s2 + values[p[w2]]]
        s3 = step[s3 + values[p[w3]]]
        p += 1
    v0 = check_values[p[0]]
    v1 = check_values[p[w]]
    v2 = check_values[p[w2]]
    v3 = check_values[p[w3]]
    # A poisoned chain or a bad check character has bit 7 set.
    out[0] = (s0 | v0) < 0x80 and (s0 + v0) % modulus == 1
    out[1] = (s1 | v1) < 0x80 and (s1 + v1) % modulus == 1
    out[2] = (s2 | v2) < 0x80 and (s2 + v2) % modulus == 1
    out[3] = (s3 | v3) < 0x80 and (s3 + v3) % modulus == 1


# MOD 11-2: digits; check (1 - 2 s) mod 11, 10 written as 'X'.
cdef inline Py_ssize_t mod11_2_calc(const unsigned char *payload, Py_ssize_t n,
                                    unsigned char *out) noexcept nogil:
    cdef unsigned int t = 0
    cdef Py_ssize_t r = iso7064_fold(payload, n, tc_digit, 10, tc_pure11, 0, &t)
    if r < 0:
        return r
    t = (12 - t) % 11
    out[0] = c'X' if t == 10 else tc_chars[t]
    return 1


cdef inline Py_ssize_t mod11_2_verify(const unsigned char *code, Py_ssize_t n) noexcept nogil:
    return iso7064_verify(code, n, tc_digit, 10, tc_digit_x, 11, tc_pure11, 0, 11)


cdef inline void mod11_2_verify4(const unsigned char *code, Py_ssize_t w, Py_ssize_t n,
                                 unsigned char *out) noexcept nogil:
    iso7064_verify4(code, w, n, tc_digit, tc_digit_x, tc_pure11, 0, 11, out)


# MOD 37-2: 0-9A-Z; check (1 - 2 s) mod 37, 36 written as '*'.
cdef inline Py_ssize_t mod37_2_calc(const unsigned char *payload, Py_ssize_t n,
                                    unsigned char *out) noexcept nogil:
    cdef unsigned int t = 0
    cdef Py_ssize_t r = iso7064_fold(payload, n, tc_alnum, 36, tc_pure37, 0, &t)
    if r < 0:
        return r
    out[0] = tc_chars[(38 - t) % 37]
    return 1


cdef inline Py_ssize_t mod37_2_verify(const unsigned char *code, Py_ssize_t n) noexcept nogil:
    return iso7064_verify(code, n, tc_alnum, 36, tc_alnum_star, 37, tc_pure37, 0, 37)


cdef inline void mod37_2_verify4(const unsigned char *code, Py_ssize_t w, Py_ssize_t n,
                                 unsigned char *out) noexcept nogil:
    iso7064_verify4(code, w, n, tc_alnum, tc_alnum_star, tc_pure37, 0, 37, out)


# MOD 11,10: digits; check (1 - t) mod 10.
cdef inline Py_ssize_t mod11_10_calc(const unsigned char *payload, Py_ssize_t n,
                                     unsigned char *out) noexcept nogil:
    cdef unsigned int t = 0
    cdef Py_ssize_t r = iso7064_fold(payload, n, tc_digit, 10, tc_hybrid10, 10, &t)
    if r < 0:
        return r
    out[0] = tc_chars[(11 - t) % 10]
    return 1


cdef inline Py_ssize_t mod11_10_verify(const unsigned char *code, Py_ssize_t n) noexcept nogil:
    return iso7064_verify(code, n, tc_digit, 10, tc_digit, 10, tc_hybrid10, 10, 10)


cdef inline void mod11_10_verify4(const unsigned char *code, Py_ssize_t w, Py_ssize_t n,
                                  unsigned char *out) noexcept nogil:
    iso7064_verify4(code, w, n, tc_digit, tc_digit, tc_hybrid10, 10, 10, out)


# MOD 37,36: 0-9A-Z; check (1 - t) mod 36.
cdef inline Py_ssize_t mod37_36_calc(const unsigned char *payload, Py_ssize_t n,
                                     unsigned char *out) noexcept nogil:
    cdef unsigned int t = 0
    cdef Py_ssize_t r = iso7064_fold(payload, n, tc_alnum, 36, tc_hybrid36, 36, &t)
    if r < 0:
        return r
    out[0] = tc_chars[(37 - t) % 36]
    return 1


cdef inline Py_ssize_t mod37_36_verify(const unsigned char *code, Py_ssize_t n) noexcept nogil:
    return iso7064_verify(code, n, tc_alnum, 36, tc_alnum, 36, tc_hybrid36, 36, 36)


cdef inline void mod37_36_verify4(const unsigned char *code, Py_ssize_t w, Py_ssize_t n,
                                  unsigned char *out) noexcept nogil:
    iso7064_verify4(code, w, n, tc_alnum, tc_alnum, tc_hybrid36, 36, 36, out)


# MOD 97-10 residue of p[0:n], digits as themselves and letters as 10..35 (two
# decimal digits), as python-stdnum's mod_97_10. Reducing every 8 characters
# rather than every one keeps the division off most steps (97 * 100^8 < 2^64).
cdef inline Py_ssize_t mod97_fold(const unsigned char *p, Py_ssize_t n,
                                  unsigned int *r_out) noexcept nogil:
    cdef Py_ssize_t i
    cdef unsigned int v
    cdef unsigned long long acc = 0
    for i in range(n):
        v = tc_alnum[p[i]]
        if v > 35:
            return -(i + 1)
        acc = acc * (10 if v < 10 else 100) + v
        if (i & 7) == 7:
            acc %= 97
    r_out[0] = <unsigned int>(acc % 97)
    return 0


# Two check digits 98 - (100 r mod 97), 02..98.
cdef inline Py_ssize_t mod97_10_calc(const unsigned char *payload, Py_ssize_t n,
                                     unsigned char *out) noexcept nogil:
    cdef unsigned int r = 0
    cdef Py_ssize_t e = mod97_fold(payload, n, &r)
    if e < 0:
        return e
    r = 98 - r * 100 % 97
    out[0] = <unsigned char>(48 + r // 10)
    out[1] = <unsigned char>(48 + r % 10)
    return 2


# Whole code (n >= 3), check digits numeric. Like the standard (and stdnum), any
# two digits that make the whole 1 mod 97 pass, so the alternates 00, 01 and
# 99 of 97, 98 and 02 do too.
cdef inline Py_ssize_t mod97_10_verify(const unsigned char *code, Py_ssize_t n) noexcept nogil:
    cdef unsigned int r = 0, d1, d2
    cdef Py_ssize_t e = mod97_fold(code, n - 2, &r)
    if e < 0:
        return e
    d1 = tc_digit[code[n - 2]]
    if d1 > 9:
        return -(n - 1)
    d2 = tc_digit[code[n - 1]]
    if d2 > 9:
        return -n
    return (r * 100 + d1 * 10 + d2) % 97 == 1
