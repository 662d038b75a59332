# Verhoeff: the dihedral group D5 with a position-dependent permutation
# (p^(i mod 8), i counted from the right, the check digit at i = 0). The code
# is valid when the product is 0; the check digit is the inverse of the
# payload's product. Detects every single substitution and every adjacent
# transposition. Tables as python-stdnum's.
from tracecode.checks.alphabets cimport tc_digit

cdef extern from *:
    """
    #ifndef TRACECODE_CHECKS_VERHOEFF_H
    #define TRACECODE_CHECKS_VERHOEFF_H
    /* D5 multiplication d(j, k), row-major. The group is not commutative, so
       reading left to right the product grows on the left: c <- d(p, c). */
    static const unsigned char tc_verhoeff_d[] = {
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9,
        1, 2, 3, 4, 0, 6, 7, 8, 9, 5,
        2, 3, 4, 0, 1, 7, 8, 9, 5, 6,
        3, 4, 0, 1, 2, 8, 9, 5, 6, 7,
        4, 0, 1, 2, 3, 9, 5, 6, 7, 8,
        5, 9, 8, 7, 6, 0, 4, 3, 2, 1,
        6, 5, 9, 8, 7, 1, 0, 4, 3, 2,
        7, 6, 5, 9, 8, 2, 1, 0, 4, 3,
        8, 7, 6, 5, 9, 3, 2, 1, 0, 4,
        9, 8, 7, 6, 5, 4, 3, 2, 1, 0,
        TC_POISON};
    /* 10 * p^k(j) for k = 0..7: the row offset of d(p, .) */
    static const unsigned char tc_verhoeff_p10[] = {
         0, 10, 20, 30, 40, 50, 60, 70, 80, 90,
        10, 50, 70, 60, 20, 80, 30,  0, 90, 40,
        50, 80,  0, 30, 70, 90, 60, 10, 40, 20,
        80, 90, 10, 60,  0, 40, 30, 50, 20, 70,
        90, 40, 50, 30, 10, 20, 60, 80, 70,  0,
        40, 20, 80, 60, 50, 70, 30, 90,  0, 10,
        20, 70, 90, 30, 80,  0, 60, 40, 10, 50,
        70,  0, 40, 60, 90, 10, 30, 20, 50, 80,
        TC_B256};  /* row offset + TC_BAD stays TC_BAD */
    /* inverse in D5, as ASCII */
    static const unsigned char tc_verhoeff_inv[10] = {'0', '4', '3', '2', '1', '5', '6', '7', '8', '9'};
    _Static_assert(sizeof(tc_verhoeff_d) == 100 + 512 && sizeof(tc_verhoeff_p10) == 80 + 256,
                   "tracecode: Verhoeff tables");
    #endif
    """
    const unsigned char tc_verhoeff_d[612]
    const unsigned char tc_verhoeff_p10[336]
    const unsigned char tc_verhoeff_inv[10]


# D5 product over p[0:n] (p[n-1] sits at position `last` from the right,
# positions from the right as python-stdnum). Returns -(i + 1) for a non-digit
# p[i], else 0 with the product in c_out[0].
cdef inline Py_ssize_t verhoeff_fold(const unsigned char *p, Py_ssize_t n, Py_ssize_t last,
                                     unsigned int *c_out) noexcept nogil:
    cdef Py_ssize_t i
    cdef unsigned int v, c = 0
    cdef size_t k = <size_t>(n - 1 + last)  # position of p[0] from the right
    for i in range(n):
        v = tc_digit[p[i]]
        if v > 9:
            return -(i + 1)
        # Only this lookup depends on the previous character.
        c = tc_verhoeff_d[tc_verhoeff_p10[(k & 7) * 10 + v] + c]
        k -= 1
    c_out[0] = c
    return 0


cdef inline Py_ssize_t verhoeff_calc(const unsigned char *payload, Py_ssize_t n,
                                     unsigned char *out) noexcept nogil:
    cdef unsigned int c = 0
    cdef Py_ssize_t r = verhoeff_fold(payload, n, 1, &c)
    if r < 0:
        return r
    out[0] = tc_verhoeff_inv[c]
    return 1


# Whole code (n >= 2): 1 valid, 0 wrong check digit, -(i + 1) bad code[i].
cdef inline Py_ssize_t verhoeff_verify(const unsigned char *code, Py_ssize_t n) noexcept nogil:
    cdef unsigned int c = 0
    cdef Py_ssize_t r = verhoeff_fold(code, n, 0, &c)
    return r if r < 0 else c == 0


# Verdicts (1 valid, 0 not) of four codes of the same length n >= 1 at code,
# code + w, code + 2w and code + 3w: four independent chains of lookups
# overlap. A bad character poisons its chain (TC_POISON), so no test per character.
cdef inline void verhoeff_verify4(const unsigned char *code, Py_ssize_t w, Py_ssize_t n,
                                  unsigned char *out) noexcept nogil:
    cdef const unsigned char *p = code
    cdef const unsigned char *end = code + n
    cdef const unsigned char *perm
    cdef Py_ssize_t w2 = 2 * w, w3 = 3 * w
    cdef size_t s0 = 0, s1 = 0, s2 = 0, s3 = 0
    cdef size_t k = <size_t>(n - 1)
    while p != end:
        perm = &tc_verhoeff_p10[(k & 7) * 10]
        s0 = tc_verhoeff_d[perm[tc_digit[p[0]]] + s0]
        s1 = tc_verhoeff_d[perm[tc_digit[p[w]]] + s1]
        s2 = tc_verhoeff_d[perm[tc_digit[p[w2]]] + s2]
        s3 = tc_verhoeff_d[perm[tc_digit[p[w3]]] + s3]
        k -= 1
        p += 1
    out[0] = s0 == 0
    out[1] = s1 == 0
    out[2] = s2 == 0
    out[3] = s3 == 0
