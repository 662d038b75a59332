# ASCII -> value lookup tables shared by the check kernels.
#
# Each table maps a byte to its value in an alphabet, or to TC_BAD (0xFF) when
# the byte is outside it. Three ways to meet a bad byte, cheapest last:
# - fold kernels (one code) test `v >= radix` per character, which catches
#   TC_BAD and yields the position the contract wants;
# - sum kernels (gs1, luhn) OR the values and test bit 7 once per code,
#   calling first_bad() only when that fails;
# - the four-code bulk loops test nothing: step tables end in TC_POISON, so a
#   bad value drives its chain to TC_BAD and keeps it there.
# Only upper-case letters count: callers normalise first (CheckSystem.compact).
# The tables are static C arrays, so every module that cimports this file gets
# its own read-only copy with no initialisation step.

cdef extern from *:
    """
    #ifndef TRACECODE_CHECKS_ALPHABETS_H
    #define TRACECODE_CHECKS_ALPHABETS_H
    #define TC_BAD 0xFF
    #define TC_B4 TC_BAD, TC_BAD, TC_BAD, TC_BAD
    #define TC_B16 TC_B4, TC_B4, TC_B4, TC_B4
    #define TC_DIGITS 0, 1, 2, 3, 4, 5, 6, 7, 8, 9
    /* 'A'..'O' at 0x41..0x4F and 'P'..'Z' at 0x50..0x5A */
    #define TC_A_TO_O 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24
    #define TC_P_TO_Z 25, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35
    #define TC_HIGH TC_B16, TC_B16, TC_B16, TC_B16, TC_B16, TC_B16, TC_B16, TC_B16
    /* Padding for step tables: TC_BAD + TC_BAD must still index TC_BAD, so a bad
       value poisons a chain for good and bulk loops skip the test per character. */
    #define TC_B256 TC_HIGH, TC_HIGH
    #define TC_POISON TC_B256, TC_B256

    /* 0-9 */
    static const unsigned char tc_digit[] = {
        TC_B16, TC_B16, TC_B16,
        TC_DIGITS, TC_BAD, TC_BAD, TC_BAD, TC_BAD, TC_BAD, TC_BAD,
        TC_B16, TC_B16, TC_B16, TC_B16, TC_HIGH};
    /* 0-9, X = 10: the MOD 11-2 check character */
    static const unsigned char tc_digit_x[] = {
        TC_B16, TC_B16, TC_B16,
        TC_DIGITS, TC_BAD, TC_BAD, TC_BAD, TC_BAD, TC_BAD, TC_BAD,
        TC_B16,
        TC_B4, TC_B4, 10, TC_BAD, TC_BAD, TC_BAD, TC_B4,  /* 0x50..0x5F, X at 0x58 */
        TC_B16, TC_B16, TC_HIGH};
    /* 0-9 A-Z = 0..35 */
    static const unsigned char tc_alnum[] = {
        TC_B16, TC_B16, TC_B16,
        TC_DIGITS, TC_BAD, TC_BAD, TC_BAD, TC_BAD, TC_BAD, TC_BAD,
        TC_BAD, TC_A_TO_O,
        TC_P_TO_Z, TC_BAD, TC_BAD, TC_BAD, TC_BAD, TC_BAD,
        TC_B16, TC_B16, TC_HIGH};
    /* 0-9 A-Z * = 0..36: the MOD 37-2 check character */
    static const unsigned char tc_alnum_star[] = {
        TC_B16, TC_B16,
        TC_B4, TC_B4, TC_BAD, TC_BAD, 36, TC_BAD, TC_B4,  /* '*' at 0x2A */
        TC_DIGITS, TC_BAD, TC_BAD, TC_BAD, TC_BAD, TC_BAD, TC_BAD,
        TC_BAD, TC_A_TO_O,
        TC_P_TO_Z, TC_BAD, TC_BAD, TC_BAD, TC_BAD, TC_BAD,
        TC_B16, TC_B16, TC_HIGH};
    /* value -> character, for every alphabet above */
    static const char tc_chars[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*";
    /* a miscounted row would shift every later entry */
    _Static_assert(sizeof(tc_digit) == 256 && sizeof(tc_digit_x) == 256 &&
                   sizeof(tc_alnum) == 256 && sizeof(tc_alnum_star) == 256,
                   "tracecode: ASCII tables must have 256 entries");
    #endif
    """
    const unsigned char tc_digit[256]
    const unsigned char tc_digit_x[256]
    const unsigned char tc_alnum[256]
    const unsigned char tc_alnum_star[256]
    const char tc_chars[38]


# -(i + 1) for the first p[i] outside the alphabet, else 0: the cold path that
# locates a bad character once a kernel has seen there is one.
cdef inline Py_ssize_t first_bad(const unsigned char *p, Py_ssize_t n,
                                 const unsigned char *values, unsigned int radix) noexcept nogil:
    cdef Py_ssize_t i
    for i in range(n):
        if values[p[i]] >= radix:
            return -(i + 1)
    return 0

