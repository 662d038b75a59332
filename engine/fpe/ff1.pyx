"""FF1 format-preserving encryption (NIST SP 800-38G), batched.

A serial is ``FF1(key, tweak, counter)``: the counter, written as an n-numeral
string in the scheme's radix, encrypted to another n-numeral string. The
Feistel arithmetic runs in ``nogil`` loops over a whole chunk of codes; the
block cipher (AES, or SM4 of GB/T 32907 for the "sm" suite: FF1 only needs a
128-bit block cipher) comes from ``cryptography`` (OpenSSL's EVP), applied once
per round to the chunk's blocks in ECB mode, so the per-code cost is one block
per round.

Why the batching is exact FF1: the PRF is a CBC-MAC over P || Q. P and every
block of Q but the last depend only on the key, the tweak and the domain, so
their chain value is computed once; the last block holds the round number and
NUM(B), so each code needs one AES call per round. S is one block because this
implementation limits b to 12 bytes (d <= 16): radix 10 up to 56 numerals,
radix 36 up to 36 numerals, far beyond a 20-character serial.

Numerals are integers internally: a string of n numerals is the pair
(NUM(A), NUM(B)), never an array of digits, so a round is one modular addition.
"""
import sys
import threading

import numpy as np
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from libc.stdint cimport uint8_t, uint32_t, uint64_t
from libc.stdlib cimport free, malloc
from libc.string cimport memcpy

from tracecode.fpe.u128 cimport bswap32, bswap64, u64, u128

from tracecode.errors import DomainError, InvalidFormat, InvalidLength

cdef extern from "aesni.h" nogil:
    ctypedef struct tc_aes_key:
        int rounds
    int tc_aes_supported()
    int tc_aes_expand(tc_aes_key *k, const uint8_t *key, size_t length)
    void tc_aes_ecb(const tc_aes_key *k, const uint8_t *src, uint8_t *dst, size_t n)
    void tc_aes_wipe(tc_aes_key *k)

if sys.byteorder != "little":  # the block packing below writes big-endian via bswap
    raise ImportError("tracecode.fpe.ff1 needs a little-endian CPU")

MIN_DOMAIN = 1_000_000          # NIST SP 800-38G: radix**minlen >= 1,000,000
MAX_TWEAK = 4096                # bytes; NIST leaves maxTlen to the implementation
DEFAULT_CHUNK = 8192            # codes per AES call: fits L2 with all scratch
MAX_CHUNK = 1 << 20
_ROUNDS = 10
_U64_MAX = (1 << 64) - 1
# FF1's block cipher by name: key sizes it takes, and cryptography's algorithm class
CIPHERS = {"aes": ((16, 24, 32), algorithms.AES), "sm4": ((16,), algorithms.SM4)}
DEFAULT_ALPHABET = "0123456789abcdefghijklmnopqrstuvwxyz"
# AES-128/256 on a few codes at a time through the CPU's AES instructions (aesni.h), not a
# call into cryptography per round: NATIVE_MAX codes a call at most (more amortise the call);
# TRACECODE_FF1_NATIVE=0 turns it off (an A/B, or a CPU one distrusts).
import os as _os
NATIVE_AES = bool(tc_aes_supported()) and _os.environ.get("TRACECODE_FF1_NATIVE", "1") != "0"
NATIVE_MAX = 48   # measured: faster than OpenSSL through cryptography up to about 64 codes a call


cdef inline uint64_t _load_be64(const uint8_t *p) noexcept nogil:
    cdef uint64_t x
    memcpy(&x, p, 8)
    return bswap64(x)


cdef inline void _store_be64(uint8_t *p, uint64_t x) noexcept nogil:
    x = bswap64(x)
    memcpy(p, &x, 8)


cdef inline u128 _num_s(const uint8_t *r, int d) noexcept nogil:
    """y = NUM(S): the first d bytes of the AES output, big-endian."""
    cdef uint32_t w
    if d == 8:
        return _load_be64(r)
    if d == 12:
        memcpy(&w, r + 8, 4)
        return ((<u128>_load_be64(r)) << 32) | bswap32(w)
    return ((<u128>_load_be64(r)) << 64) | _load_be64(r + 8)


cdef inline uint64_t _mod64(uint64_t y, uint64_t m, uint64_t minv) noexcept nogil:
    """y mod m by a precomputed reciprocal (Barrett).

    q undershoots y // m by at most 2, so two branch-free corrections finish it
    (a data-dependent loop here mispredicted and cost more than the multiply).
    """
    cdef uint64_t q = <uint64_t>(((<u128>y) * minv) >> 64)
    cdef uint64_t r = y - q * m
    r = r - m if r >= m else r
    r = r - m if r >= m else r
    return r


# Chunk state is NUM(A), NUM(B) per code: 64-bit words when radix**v < 2**63
# (every built-in scheme), 128-bit otherwise; the loops below serve both.
ctypedef fused word_t:
    u64
    u128


cdef void _write_blocks(uint8_t *blk, const word_t *src, Py_ssize_t count,
                        uint64_t hi, uint64_t lo) noexcept nogil:
    """Each code's last Q block, chain value folded in: (hi, lo) XOR NUM_b(B)."""
    cdef Py_ssize_t j
    for j in range(count):
        _store_be64(blk + 16 * j, hi ^ <uint64_t>((<u128>src[j]) >> 64))
        _store_be64(blk + 16 * j + 8, lo ^ <uint64_t>src[j])


cdef void _round_pass(word_t *V, const uint8_t *mac, uint8_t *blk, Py_ssize_t count, int d,
                      u128 M, uint64_t minv, bint decrypt, uint64_t hi, uint64_t lo) noexcept nogil:
    """Finish one round for a chunk: V = V +/- NUM(S) mod M, then write the next
    round's block from the new value (it is that round's F input; after the last
    round the block is scratch). No branch per code: the direction is a mask and
    the reduction a choice of loop."""
    cdef Py_ssize_t j
    cdef word_t m = <word_t>M
    cdef word_t r, val, zero = 0
    cdef word_t dmask = zero - <word_t>decrypt   # all ones when decrypting
    if d == 8 and minv != 0:
        for j in range(count):
            r = <word_t>_mod64(_load_be64(mac + 16 * j), <uint64_t>M, minv)
            val = V[j] + (r ^ ((r ^ (m - r)) & dmask))   # + r, or + (m - r) to subtract
            # val mod m for val < 2m, branch-free: val >= m is a coin flip here, and
            # a mispredicted compare-and-jump cost more than the rest of the round.
            val = val - (m & (zero - <word_t>(val >= m)))
            V[j] = val
            _store_be64(blk + 16 * j, hi ^ <uint64_t>((<u128>val) >> 64))
            _store_be64(blk + 16 * j + 8, lo ^ <uint64_t>val)
    else:
        for j in range(count):
            r = <word_t>(_num_s(mac + 16 * j, d) % M)
            val = V[j] + (r ^ ((r ^ (m - r)) & dmask))
            val = val - (m & (zero - <word_t>(val >= m)))
            V[j] = val
            _store_be64(blk + 16 * j, hi ^ <uint64_t>((<u128>val) >> 64))
            _store_be64(blk + 16 * j + 8, lo ^ <uint64_t>val)


cdef void _split_counters(word_t *A, word_t *B, uint64_t start, const uint64_t *counters,
                          Py_ssize_t count, u128 mod_v) noexcept nogil:
    """Counter c as the numeral string (A, B): A = c // radix**v, B = c % radix**v."""
    cdef Py_ssize_t j
    cdef uint64_t c, mv = <uint64_t>mod_v
    cdef bint wide = (mod_v >> 64) != 0
    for j in range(count):
        c = counters[j] if counters != NULL else start + <uint64_t>j
        if wide:
            A[j] = 0
            B[j] = c
        else:
            A[j] = c // mv
            B[j] = c % mv


cdef void _join_counters(const word_t *A, const word_t *B, Py_ssize_t count, u128 mod_v,
                         uint64_t *out, uint8_t *ok) noexcept nogil:
    """c = A * radix**v + B; ok = 0 where c needs more than 64 bits (never issued)."""
    cdef Py_ssize_t j
    cdef u128 x, a
    cdef bint wide = (mod_v >> 64) != 0
    for j in range(count):
        a = A[j]
        if a != 0 and (wide or (a >> 64) != 0):
            x = (<u128>1) << 64  # the product would overflow: certainly too large
        else:
            x = a * mod_v + B[j]
        if (x >> 64) != 0:
            ok[j] = 0
            out[j] = 0
        else:
            out[j] = <uint64_t>x


cdef inline bint _read_word(const uint8_t *src, int count, word_t radix,
                            const uint8_t *digit_of, word_t *x) noexcept nogil:
    """Horner in the chunk's word size: 64-bit multiplies when the domain allows."""
    cdef int k
    cdef uint8_t dv
    cdef word_t acc = 0
    for k in range(count):
        dv = digit_of[src[k]]
        if dv == 255:
            return False
        acc = acc * radix + dv
    x[0] = acc
    return True


cdef Py_ssize_t _parse_rows(word_t *A, word_t *B, const uint8_t *src, Py_ssize_t stride,
                            Py_ssize_t count, int u, int v, int radix,
                            const uint8_t *digit_of, uint8_t *ok) noexcept nogil:
    cdef Py_ssize_t j, bad = 0
    cdef word_t r = <word_t>radix
    for j in range(count):
        if (_read_word(src + j * stride, u, r, digit_of, &A[j])
                and _read_word(src + j * stride + u, v, r, digit_of, &B[j])):
            ok[j] = 1
        else:
            ok[j] = 0
            A[j] = 0
            B[j] = 0
            bad += 1
    return bad


cdef void _format_rows(const word_t *A, const word_t *B, uint8_t *dst, Py_ssize_t stride,
                       Py_ssize_t count, int u, int v, int radix,
                       const uint8_t *alphabet) noexcept nogil:
    cdef Py_ssize_t j
    for j in range(count):
        _write_numerals(dst + j * stride, u, A[j], radix, alphabet)
        _write_numerals(dst + j * stride + u, v, B[j], radix, alphabet)


cdef inline void _write_numerals(uint8_t *out, int count, u128 x, int radix,
                                 const uint8_t *alphabet) noexcept nogil:
    """Write x as `count` numerals, most significant first."""
    cdef int k
    cdef uint64_t x64
    if (x >> 64) == 0:
        x64 = <uint64_t>x
        if radix == 10:  # constant divisor: the compiler turns it into a multiply
            for k in range(count - 1, -1, -1):
                out[k] = alphabet[x64 % 10]
                x64 //= 10
        else:
            for k in range(count - 1, -1, -1):
                out[k] = alphabet[x64 % radix]
                x64 //= radix
    else:
        for k in range(count - 1, -1, -1):
            out[k] = alphabet[<int>(x % radix)]
            x //= radix


def _as_alphabet(alphabet, int radix):
    if alphabet is None:
        if radix > len(DEFAULT_ALPHABET):
            raise DomainError(f"radix {radix} needs an explicit alphabet")
        alphabet = DEFAULT_ALPHABET[:radix]
    raw = alphabet.encode("ascii") if isinstance(alphabet, str) else bytes(alphabet)
    if len(raw) != radix or len(set(raw)) != radix:
        raise DomainError(f"alphabet must hold {radix} distinct ASCII characters, got {len(raw)}")
    return raw


cdef class _Scratch:
    """One thread's chunk buffers (NUM(A), NUM(B), AES blocks in and out), shared by
    every FF1 object the thread uses: a cached FF1 costs its key schedule, not the
    ~512 KB of a chunk's scratch (the scan parser caches one per product)."""

    def __cinit__(self):
        self.A = NULL
        self.B = NULL
        self.blocks = NULL
        self.macs = NULL
        self.cap = 0
        self.busy = False

    cdef int reserve(self, Py_ssize_t count) except -1:
        if count <= self.cap:
            return 0
        if count > MAX_CHUNK:
            raise ValueError(f"at most {MAX_CHUNK:,} codes per chunk")
        self._free()
        self.A = malloc(count * sizeof(u128))
        self.B = malloc(count * sizeof(u128))
        self.blocks = <uint8_t *>malloc(count * 16)
        self.macs = <uint8_t *>malloc(count * 16 + 16)  # update_into wants len + 15
        if self.A == NULL or self.B == NULL or self.blocks == NULL or self.macs == NULL:
            self._free()
            raise MemoryError()
        self.blocks_mv = <uint8_t[:count * 16]>self.blocks
        self.macs_mv = <uint8_t[:count * 16 + 16]>self.macs
        self.cap = count  # last: a failure above leaves no half-built scratch in use
        return 0

    cdef _free(self):
        free(self.A); free(self.B); free(self.blocks); free(self.macs)
        self.A = self.B = NULL
        self.blocks = self.macs = NULL
        self.cap = 0
        self.blocks_mv = self.macs_mv = None

    def __dealloc__(self):
        free(self.A); free(self.B); free(self.blocks); free(self.macs)


_local = threading.local()


cdef _Scratch _thread_scratch(Py_ssize_t count):
    """This thread's scratch, reserved for count codes and marked busy (release:
    busy = False). Re-entered on one thread (a signal handler using FF1 in the
    middle of a call), it hands out a private one instead of corrupting the first."""
    cdef _Scratch sc = getattr(_local, "scratch", None)
    if sc is None:
        sc = _Scratch()
        _local.scratch = sc
    elif sc.busy:
        sc = _Scratch()
    sc.reserve(count)
    sc.busy = True
    return sc


def native_aes_ecb(key, blocks):
    """AES-ECB of `blocks` (a multiple of 16 bytes) under a 16- or 32-byte key by aesni.h, the
    path FF1 takes for a few codes: for the tests that hold it to FIPS 197 and cryptography."""
    cdef tc_aes_key k
    cdef const uint8_t[::1] kb = bytes(key)
    data = bytearray(blocks)
    cdef uint8_t[::1] buf = data
    if not tc_aes_supported():
        raise RuntimeError("this CPU has no AES-NI")
    if len(data) % 16 or not len(data) or tc_aes_expand(&k, &kb[0], len(kb)) != 0:
        raise ValueError("a 16- or 32-byte key and whole 16-byte blocks")
    tc_aes_ecb(&k, &buf[0], &buf[0], len(data) // 16)
    tc_aes_wipe(&k)
    return bytes(data)


def check_domain(int radix, int length):
    """Refuse (DomainError) an FF1 domain outside NIST SP 800-38G or this implementation.

    The one statement of the limits: FF1 itself and the scheme loader both call it,
    so a scheme that loads is a scheme FF1 can serve."""
    if not 2 <= radix <= 255:  # 255 marks "not a numeral" in the byte tables
        raise DomainError(f"radix must be between 2 and 255, got {radix}")
    if length < 2:
        raise DomainError(f"FF1 needs at least 2 numerals, got {length}")
    R = <object>radix  # Python ints: powers below exceed 64 bits
    if R ** length < MIN_DOMAIN:
        raise DomainError(
            f"domain radix**length = {radix}**{length} = {R ** length:,} is below the "
            f"NIST SP 800-38G minimum of {MIN_DOMAIN:,}; use more numerals or a larger alphabet")
    if ((R ** (length - length // 2) - 1).bit_length() + 7) // 8 > 12:
        raise DomainError(
            f"{length} numerals of radix {radix} is beyond this FF1's limit "
            f"(NUM(B) must fit 12 bytes: at most {max_length(radix)} numerals); use a shorter serial")


def max_length(int radix):
    """The most numerals of this radix this FF1 serves (NUM(B) in 12 bytes)."""
    n = 2
    while ((<object>radix ** ((n + 1) - (n + 1) // 2) - 1).bit_length() + 7) // 8 <= 12:
        n += 1
    return n


def check_counters(FF1 f, start, count):
    """DomainError unless counters start .. start+count-1 are all below the domain and 2**64."""
    if count < 0:
        raise ValueError("count must be >= 0")
    if start < 0 or start + count > min(f.domain, 1 << 64):
        raise DomainError(
            f"counters {start:,}..{start + count - 1:,} are outside this FF1's counters "
            f"0..{min(f.domain, 1 << 64) - 1:,} (the domain {f.radix}**{f.length} and 64 bits)")


cdef class FF1:
    """FF1 over n-numeral strings in one radix, for one key and one tweak.

    ``FF1(key, tweak, radix, length, alphabet=None, cipher="aes")``; key is 16,
    24 or 32 bytes (AES-128/192/256), or 16 bytes with ``cipher="sm4"``. Encrypts and decrypts single strings
    (:meth:`encrypt`, :meth:`decrypt`) and, the reason this exists, whole
    ranges of counters (:meth:`encrypt_counters`, :meth:`decrypt_counters`).
    Scratch buffers belong to the thread (shared by all its FF1 objects); an
    object may be shared between threads.
    """

    def __cinit__(self):
        self.cap = 0
        self._native = NULL

    def __dealloc__(self):
        if self._native != NULL:
            tc_aes_wipe(<tc_aes_key *>self._native)
            free(self._native)

    def __init__(self, key, tweak, int radix, int length, alphabet=None,
                 Py_ssize_t chunk=DEFAULT_CHUNK, cipher="aes"):
        key = bytes(key)
        tweak = bytes(tweak)
        if cipher not in CIPHERS:
            raise ValueError(f"FF1 cipher must be one of {', '.join(CIPHERS)}, got {cipher!r}")
        sizes, algorithm = CIPHERS[cipher]
        if len(key) not in sizes:
            if cipher == "aes":
                raise ValueError(f"FF1 key must be 16, 24 or 32 bytes (AES-128/192/256), got {len(key)} bytes")
            raise ValueError(f"FF1-SM4 key must be 16 bytes, got {len(key)} bytes")
        self.cipher = cipher
        check_domain(radix, length)
        if len(tweak) > MAX_TWEAK:
            raise DomainError(f"tweak is {len(tweak)} bytes; at most {MAX_TWEAK} are allowed")
        if not 1 <= chunk <= MAX_CHUNK:
            raise ValueError(f"chunk must be between 1 and {MAX_CHUNK:,}")

        self.radix = radix
        self.length = length
        self.u = length // 2
        self.v = length - self.u
        R = <object>radix  # Python ints: powers below exceed 64 bits
        b = ((R ** self.v - 1).bit_length() + 7) // 8
        self.b = b
        self.d = 4 * ((b + 3) // 4) + 4
        self.alphabet = _as_alphabet(alphabet, radix)
        for i in range(256):
            self.digit_of[i] = 255
        for i, ch in enumerate(self.alphabet):
            self.digit_of[ch] = i
            self.numeral[i] = ch

        mu, mv = R ** self.u, R ** self.v
        self.mod_u = (<u128>(mu >> 64) << 64) | <uint64_t>(mu & _U64_MAX)
        self.mod_v = (<u128>(mv >> 64) << 64) | <uint64_t>(mv & _U64_MAX)
        self.minv_u = _U64_MAX // mu if mu <= _U64_MAX else 0
        self.minv_v = _U64_MAX // mv if mv <= _U64_MAX else 0
        self.narrow = mv < (1 << 63)  # then A + r < 2 * radix**v fits 64 bits too
        # Counters are u64 and must be below the domain: past either end they would
        # wrap or fold onto smaller counters and give duplicate serials.
        lim = min(R ** length, 1 << 64)
        self.limit = (<u128>(lim >> 64) << 64) | <uint64_t>(lim & _U64_MAX)

        self._ecb = Cipher(algorithm(key), modes.ECB()).encryptor()
        cdef const uint8_t[::1] key_bytes = key
        if cipher == "aes" and len(key) in (16, 32) and NATIVE_AES and self._native == NULL:
            self._native = malloc(sizeof(tc_aes_key))
            if self._native == NULL:
                raise MemoryError()
            tc_aes_expand(<tc_aes_key *>self._native, &key_bytes[0], len(key))
        self._lock = threading.Lock()
        self._precompute(tweak)
        self.cap = chunk

    cdef _precompute(self, bytes tweak):
        """Chain value of P and the constant blocks of Q, folded into each round's last block."""
        t = len(tweak)
        n, u, b = self.length, self.u, self.b
        P = bytes([1, 2, 1]) + self.radix.to_bytes(3, "big") + bytes([10, u % 256]) \
            + n.to_bytes(4, "big") + t.to_bytes(4, "big")
        q_const = tweak + bytes((-t - b - 1) % 16)
        q_len = len(q_const) + 1 + b
        head, tail = q_const[:q_len - 16], q_const[q_len - 16:]
        chain = self._ecb.update(P)
        for off in range(0, len(head), 16):
            chain = self._ecb.update(bytes(x ^ y for x, y in zip(chain, head[off:off + 16])))
        for i in range(_ROUNDS):
            last = tail + bytes([i]) + bytes(b)
            block = bytes(x ^ y for x, y in zip(chain, last))
            self.round_hi[i] = int.from_bytes(block[:8], "big")
            self.round_lo[i] = int.from_bytes(block[8:], "big")

    def __repr__(self):  # never shows the key
        return f"FF1(radix={self.radix}, length={self.length}, cipher={self.cipher!r})"

    @property
    def domain(self):
        """Number of distinct strings: radix ** length."""
        return (<object>self.radix) ** self.length

    @property
    def chunk(self):
        """Codes handled per AES call; C-level callers pass at most this many."""
        return self.cap

    # -- the Feistel network over the chunk held in A, B ----------------------

    cdef int _rounds(self, _Scratch sc, Py_ssize_t count, bint decrypt) except -1:
        # Encrypting, round i sets A = (A + F_i(B)) mod radix**m, then swaps A and B;
        # decrypting runs i = 9..0, sets B = (B - F_i(A)) mod radix**m, then swaps.
        # Either way the value just computed is the next round's F input, so the
        # pass that finishes round i also writes round i+1's block for that code.
        cdef void *X = sc.A
        cdef void *Y = sc.B
        cdef void *tmp
        cdef void *V
        cdef u128 M
        cdef uint64_t minv, hi, lo
        cdef int rnd, i, nxt, d = self.d
        cdef bint narrow = self.narrow
        cdef uint8_t *blk = sc.blocks
        cdef const uint8_t *mac = sc.macs
        cdef bint native = self._native != NULL and count <= NATIVE_MAX
        blocks_in = None if native else sc.blocks_mv[:count * 16]
        i = _ROUNDS - 1 if decrypt else 0
        V = X if decrypt else Y
        if narrow:
            _write_blocks[u64](blk, <u64 *>V, count, self.round_hi[i], self.round_lo[i])
        else:
            _write_blocks[u128](blk, <u128 *>V, count, self.round_hi[i], self.round_lo[i])
        for rnd in range(_ROUNDS):
            i = _ROUNDS - 1 - rnd if decrypt else rnd
            if i % 2 == 0:
                M, minv = self.mod_u, self.minv_u
            else:
                M, minv = self.mod_v, self.minv_v
            nxt = (i - 1 if decrypt else i + 1) if rnd + 1 < _ROUNDS else i
            hi, lo = self.round_hi[nxt], self.round_lo[nxt]
            V = Y if decrypt else X
            if native:   # a few codes: no call into cryptography, and the GIL kept (its
                # release and retaking twice a round cost more than the round itself)
                tc_aes_ecb(<const tc_aes_key *>self._native, blk, sc.macs, count)
                if narrow:
                    _round_pass[u64](<u64 *>V, mac, blk, count, d, M, minv, decrypt, hi, lo)
                else:
                    _round_pass[u128](<u128 *>V, mac, blk, count, d, M, minv, decrypt, hi, lo)
            else:
                self._ecb.update_into(blocks_in, sc.macs_mv)
                with nogil:
                    if narrow:
                        _round_pass[u64](<u64 *>V, mac, blk, count, d, M, minv, decrypt, hi, lo)
                    else:
                        _round_pass[u128](<u128 *>V, mac, blk, count, d, M, minv, decrypt, hi, lo)
            tmp = X
            X = Y
            Y = tmp
        return 0

    cdef void _load_counters(self, void *A, void *B, uint64_t start, const uint64_t *counters,
                             Py_ssize_t count) noexcept nogil:
        if self.narrow:
            _split_counters[u64](<u64 *>A, <u64 *>B, start, counters, count, self.mod_v)
        else:
            _split_counters[u128](<u128 *>A, <u128 *>B, start, counters, count, self.mod_v)

    cdef Py_ssize_t _load_numerals(self, void *A, void *B, const uint8_t *src, Py_ssize_t stride,
                                   Py_ssize_t count, uint8_t *ok) noexcept nogil:
        if self.narrow:
            return _parse_rows[u64](<u64 *>A, <u64 *>B, src, stride, count,
                               self.u, self.v, self.radix, self.digit_of, ok)
        return _parse_rows[u128](<u128 *>A, <u128 *>B, src, stride, count,
                           self.u, self.v, self.radix, self.digit_of, ok)

    cdef void _store_numerals(self, void *A, void *B, uint8_t *dst, Py_ssize_t stride,
                              Py_ssize_t count) noexcept nogil:
        if self.narrow:
            _format_rows[u64](<u64 *>A, <u64 *>B, dst, stride, count,
                         self.u, self.v, self.radix, self.numeral)
        else:
            _format_rows[u128](<u128 *>A, <u128 *>B, dst, stride, count,
                         self.u, self.v, self.radix, self.numeral)

    cdef void _store_counters(self, void *A, void *B, uint64_t *out, uint8_t *ok,
                              Py_ssize_t count) noexcept nogil:
        if self.narrow:
            _join_counters[u64](<u64 *>A, <u64 *>B, count, self.mod_v, out, ok)
        else:
            _join_counters[u128](<u128 *>A, <u128 *>B, count, self.mod_v, out, ok)

    # -- C-level entry points ---------------------------------------------------

    # Issuers are shared between threads: the object's lock guards its AES context
    # (cryptography's contexts are not for concurrent use); the chunk's scratch is
    # the calling thread's own.
    cdef int encrypt_counters_into(self, uint64_t start, Py_ssize_t count,
                                   uint8_t *dst, Py_ssize_t stride) except -1:
        """Write the serials of counters start .. start+count-1 to dst rows."""
        if count > 0 and <u128>start + <u128>count > self.limit:
            check_counters(self, start, count)  # raises, with the message
        cdef _Scratch sc
        with self._lock:
            sc = _thread_scratch(count)
            try:
                self._load_counters(sc.A, sc.B, start, NULL, count)
                self._rounds(sc, count, False)
                with nogil:
                    self._store_numerals(sc.A, sc.B, dst, stride, count)
            finally:
                sc.busy = False
        return 0

    cdef int decrypt_numerals_into(self, const uint8_t *src, Py_ssize_t stride,
                                   Py_ssize_t count, uint64_t *counters,
                                   uint8_t *ok) except -1:
        """Recover counters from serial rows; ok[j] = 0 for a malformed serial."""
        cdef _Scratch sc
        with self._lock:
            sc = _thread_scratch(count)
            try:
                if count <= NATIVE_MAX:   # a few codes: the GIL's release costs more than this
                    self._load_numerals(sc.A, sc.B, src, stride, count, ok)
                    self._rounds(sc, count, True)
                    self._store_counters(sc.A, sc.B, counters, ok, count)
                    return 0
                with nogil:
                    self._load_numerals(sc.A, sc.B, src, stride, count, ok)
                self._rounds(sc, count, True)
                with nogil:
                    self._store_counters(sc.A, sc.B, counters, ok, count)
            finally:
                sc.busy = False
        return 0

    # -- Python API -------------------------------------------------------------

    def _string(self, numerals):
        raw = numerals.encode("ascii", "replace") if isinstance(numerals, str) else bytes(numerals)
        if len(raw) != self.length:
            raise InvalidLength(f"expected {self.length} numerals, got {len(raw)}")
        for pos, ch in enumerate(raw):
            if self.digit_of[ch] == 255:
                raise InvalidFormat(f"character {chr(ch)!r} at position {pos} is not in the alphabet",
                                    position=pos)
        return raw

    def _one(self, numerals, bint decrypt):
        cdef uint8_t ok
        raw = bytearray(self._string(numerals))
        cdef uint8_t[::1] buf = raw
        cdef _Scratch sc
        with self._lock:
            sc = _thread_scratch(1)
            try:
                self._load_numerals(sc.A, sc.B, &buf[0], self.length, 1, &ok)
                self._rounds(sc, 1, decrypt)
                self._store_numerals(sc.A, sc.B, &buf[0], self.length, 1)
            finally:
                sc.busy = False
        out = bytes(raw)
        return out.decode("ascii") if isinstance(numerals, str) else out

    def decrypt_counter(self, const uint8_t[::1] serial):
        """The counter of one serial (bytes of alphabet characters), or -1 if it is
        malformed or beyond 64 bits: the single-scan verification path."""
        cdef uint64_t counter
        cdef uint8_t ok
        if serial.shape[0] != self.length:
            return -1
        self.decrypt_numerals_into(&serial[0], self.length, 1, &counter, &ok)
        return counter if ok else -1

    def encrypt(self, numerals):
        """Encrypt one numeral string (str or bytes of alphabet characters)."""
        return self._one(numerals, False)

    def decrypt(self, numerals):
        """Decrypt one numeral string."""
        return self._one(numerals, True)

    def encrypt_counters(self, start, Py_ssize_t count, out=None):
        """Serials of counters start .. start+count-1 as a numpy ``S{length}`` array.

        DomainError if any counter is negative, reaches the domain or needs more
        than 64 bits: never a wrapped counter (a duplicate serial)."""
        check_counters(self, start, count)
        if out is None:
            out = np.empty(count, dtype=f"S{self.length}")
        elif (not isinstance(out, np.ndarray) or out.dtype != np.dtype(f"S{self.length}")
              or out.shape != (count,) or not out.flags.c_contiguous or not out.flags.writeable):
            raise ValueError(f"out must be a writeable contiguous S{self.length} array of {count} serials")
        if count == 0:
            return out
        cdef uint8_t[:, ::1] rows = out.view(np.uint8).reshape(count, self.length)
        cdef Py_ssize_t off, k
        for off in range(0, count, self.cap):
            k = min(self.cap, count - off)
            self.encrypt_counters_into(start + off, k, &rows[off, 0], self.length)
        return out

    def decrypt_counters(self, serials):
        """Counters of an ``S{length}`` array of serials: ``(counters uint64, ok bool)``.

        ``ok`` is False where a serial has a character outside the alphabet, or
        decrypts to a counter beyond 64 bits (never issued).
        """
        arr = np.ascontiguousarray(serials)
        if arr.dtype != np.dtype(f"S{self.length}"):
            raise TypeError(f"expected an array of dtype S{self.length}, got {arr.dtype}")
        count = len(arr)
        counters = np.zeros(count, dtype=np.uint64)
        ok = np.zeros(count, dtype=np.uint8)
        if count == 0:
            return counters, ok.astype(bool)
        cdef const uint8_t[:, ::1] rows = arr.view(np.uint8).reshape(count, self.length)
        cdef uint64_t[::1] cv = counters
        cdef uint8_t[::1] okv = ok
        cdef Py_ssize_t off, k
        for off in range(0, count, self.cap):
            k = min(self.cap, count - off)
            self.decrypt_numerals_into(&rows[off, 0], self.length, k, &cv[off], &okv[off])
        return counters, ok.view(bool)
