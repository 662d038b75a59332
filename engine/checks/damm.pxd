# Damm: fold the digits through a totally anti-symmetric quasigroup of order 10
# with zero diagonal (python-stdnum's default table, from Wikipedia). The
# check digit is the interim value after the payload, so a valid code folds
# to 0. Detects every single substitution and every adjacent transposition.
from tracecode.checks.alphabets cimport tc_digit

cdef extern from *:
    """
    #ifndef TRACECODE_CHECKS_DAMM_H
    #define TRACECODE_CHECKS_DAMM_H
    /* the quasigroup, entries pre-multiplied by 10: tc_damm10[10 * i + j] = 10 * (i * j),
       so the interim indexes the next row with one add; TC_POISON after it */
    static const unsigned char tc_damm10[] = {
         0, 30, 10, 70, 50, 90, 80, 60, 40, 20,
        70,  0, 90, 20, 10, 50, 40, 80, 60, 30,
        40, 20,  0, 60, 80, 70, 10, 30, 50, 90,
        10, 70, 50,  0, 90, 80, 30, 40, 20, 60,
        60, 10, 20, 30,  0, 40, 50, 90, 70, 80,
        30, 60, 70, 40, 20,  0, 90, 50, 80, 10,
        50, 80, 60, 90, 70, 20,  0, 10, 30, 40,
        80, 90, 40, 50, 30, 60, 20,  0, 10, 70,
        90, 40, 30, 80, 60, 10, 70, 20,  0, 50,
        20, 50, 80, 10, 40, 30, 60, 70, 90,  0,
        TC_POISON};
    _Static_assert(sizeof(tc_damm10) == 100 + 512, "tc_damm10");
    #endif
    """
    const unsigned char tc_damm10[612]


# Interim of p[0:n] (times 10) in i10[0]; -(i + 1) for a non-digit p[i].
cdef inline Py_ssize_t damm_fold(const unsigned char *p, Py_ssize_t n,
                                 unsigned int *i10) noexcept nogil:
    cdef Py_ssize_t i
    cdef unsigned int v, s = 0
    for i in range(n):
        v = tc_digit[p[i]]
        if v > 9:
            return -(i + 1)
        s = tc_damm10[s + v]
    i10[0] = s
    return 0


cdef inline Py_ssize_t damm_calc(const unsigned char *payload, Py_ssize_t n,
                                 unsigned char *out) noexcept nogil:
    cdef unsigned int s = 0
    cdef Py_ssize_t r = damm_fold(payload, n, &s)
    if r < 0:
        return r
    out[0] = <unsigned char>(48 + s // 10)
    return 1


# Whole code (n >= 2): 1 valid, 0 wrong check digit, -(i + 1) bad code[i].
cdef inline Py_ssize_t damm_verify(const unsigned char *code, Py_ssize_t n) noexcept nogil:
    cdef unsigned int s = 0
    cdef Py_ssize_t r = damm_fold(code, n, &s)
    return r if r < 0 else s == 0


# Verdicts (1 valid, 0 not) of four codes of the same length n >= 1 at code,
# code + w, code + 2w and code + 3w. Each step waits on the previous lookup;
# four independent chains let those waits overlap. A bad character poisons its
# chain (see tc_damm10), so there is no test per character.
cdef inline void damm_verify4(const unsigned char *code, Py_ssize_t w, Py_ssize_t n,
                              unsigned char *out) noexcept nogil:
    cdef const unsigned char *p = code
    cdef const unsigned char *end = code + n
    cdef Py_ssize_t w2 = 2 * w, w3 = 3 * w
    cdef size_t s0 = 0, s1 = 0, s2 = 0, s3 = 0  # size_t: no widening per index
    while p != end:
        s0 = tc_damm10[s0 + tc_digit[p[0]]]
        s1 = tc_damm10[s1 + tc_digit[p[w]]]
        s2 = tc_damm10[s2 + tc_digit[p[w2]]]
        s3 = tc_damm10[s3 + tc_digit[p[w3]]]
        p += 1
    out[0] = s0 == 0
    out[1] = s1 == 0
    out[2] = s2 == 0
    out[3] = s3 == 0
