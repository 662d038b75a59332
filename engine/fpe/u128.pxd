# 128-bit unsigned integers and byte-order helpers for the FF1 arithmetic.
# gcc/clang on 64-bit targets provide unsigned __int128; Cython treats it as
# an opaque integer type, so never let one reach Python (no auto-conversion).
from libc.stdint cimport uint64_t, uint32_t

cdef extern from *:
    ctypedef unsigned long long u128 "unsigned __int128"
    # A 64-bit word Cython sees as a different type from u128, so fused
    # functions get two specialisations (libc's uint64_t is also declared as
    # unsigned long long, and Cython would merge it with u128).
    ctypedef unsigned long u64 "uint64_t"
    uint64_t bswap64 "__builtin_bswap64"(uint64_t) noexcept nogil
    uint32_t bswap32 "__builtin_bswap32"(uint32_t) noexcept nogil
