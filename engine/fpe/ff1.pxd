from libc.stdint cimport uint8_t, uint64_t
from tracecode.fpe.u128 cimport u128


cdef class _Scratch:
    # One chunk's buffers, one set per thread (see _thread_scratch in ff1.pyx).
    cdef Py_ssize_t cap
    cdef bint busy
    cdef void *A
    cdef void *B
    cdef uint8_t *blocks
    cdef uint8_t *macs
    cdef object blocks_mv, macs_mv
    cdef int reserve(self, Py_ssize_t count) except -1
    cdef _free(self)


cdef class FF1:
    cdef readonly int radix
    cdef readonly int length          # n: numerals per string
    cdef readonly int u, v            # split: u = n // 2, v = n - u
    cdef readonly int b, d            # bytes of NUM(B) in Q, bytes of S used as y
    cdef readonly bytes alphabet
    cdef readonly str cipher          # "aes" or "sm4": the block cipher under FF1
    cdef u128 mod_u, mod_v            # radix**u, radix**v
    cdef u128 limit                   # counters are below min(radix**length, 2**64)
    cdef uint64_t minv_u, minv_v      # floor((2**64 - 1) / mod) when mod < 2**64
    cdef uint8_t digit_of[256]        # alphabet character -> numeral, 255 if none
    cdef uint8_t numeral[256]         # numeral -> alphabet character
    # Big-endian last Q block per round with the CBC-MAC chain value folded in:
    # block_i = chain XOR (T-tail || i || 0...), so each code only XORs NUM(B).
    cdef uint64_t round_hi[10], round_lo[10]
    cdef object _ecb                  # cryptography AES-ECB encryptor
    cdef void *_native                # AES-NI round keys (aesni.h's tc_aes_key), NULL: none
    cdef object _lock                 # guards _ecb
    cdef Py_ssize_t cap               # codes per chunk (the scratch is the thread's)
    cdef bint narrow                  # A, B held as uint64_t (else u128)

    cdef _precompute(self, bytes tweak)
    cdef int _rounds(self, _Scratch sc, Py_ssize_t count, bint decrypt) except -1
    cdef void _load_counters(self, void *A, void *B, uint64_t start, const uint64_t *counters,
                             Py_ssize_t count) noexcept nogil
    cdef Py_ssize_t _load_numerals(self, void *A, void *B, const uint8_t *src, Py_ssize_t stride,
                                   Py_ssize_t count, uint8_t *ok) noexcept nogil
    cdef void _store_numerals(self, void *A, void *B, uint8_t *dst, Py_ssize_t stride,
                              Py_ssize_t count) noexcept nogil
    cdef void _store_counters(self, void *A, void *B, uint64_t *out, uint8_t *ok,
                              Py_ssize_t count) noexcept nogil
    # C-level entry points for bulk issuance and verification; count <= chunk().
    cdef int encrypt_counters_into(self, uint64_t start, Py_ssize_t count,
                                   uint8_t *dst, Py_ssize_t stride) except -1
    cdef int decrypt_numerals_into(self, const uint8_t *src, Py_ssize_t stride,
                                   Py_ssize_t count, uint64_t *counters,
                                   uint8_t *ok) except -1
