/* AES-128/256 encryption of ECB blocks with the CPU's AES instructions (AES-NI), for FF1's
 * rounds on a few codes at a time (ff1.pyx): there each round's blocks went through one
 * call of cryptography's encryptor, about 0.5 us of call overhead against a few ns of AES,
 * ten rounds a code, so one code's FF1 cost 7 us. Many codes a call still go through
 * cryptography (OpenSSL), which the bulk paths amortise. Only the encryption direction is
 * needed (FF1 uses the block cipher forward both ways). Checked against cryptography's
 * AES on random keys and blocks and through FF1's NIST SP 800-38G vectors
 * (tests/test_ff1_native.py).
 *
 * The key schedule is the one of FIPS 197, computed with AESKEYGENASSIST as in Intel's
 * "Advanced Encryption Standard (AES) New Instructions Set" white paper (Gueron), 5.
 * tc_aes_supported() says whether this CPU (x86-64 with AES-NI) runs it; elsewhere the
 * functions are stubs and FF1 keeps to cryptography. */
#ifndef TRACECODE_AESNI_H
#define TRACECODE_AESNI_H

#include <stdint.h>
#include <string.h>

typedef struct {
    uint8_t rk[15 * 16];   /* round keys, 11 (AES-128) or 15 (AES-256) */
    int rounds;            /* 10 or 14; 0: not expanded */
} tc_aes_key;

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define TC_AES_TARGET __attribute__((target("aes,sse2")))

static int tc_aes_supported(void) {
    __builtin_cpu_init();
    return __builtin_cpu_supports("aes") && __builtin_cpu_supports("sse2");
}

TC_AES_TARGET static inline __m128i tc__fold(__m128i key, __m128i assist) {
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    key = _mm_xor_si128(key, _mm_slli_si128(key, 4));
    return _mm_xor_si128(key, assist);
}

#define TC__K128(prev, rcon) tc__fold(prev, _mm_shuffle_epi32(_mm_aeskeygenassist_si128(prev, rcon), 0xff))
#define TC__K256A(even, odd, rcon) tc__fold(even, _mm_shuffle_epi32(_mm_aeskeygenassist_si128(odd, rcon), 0xff))
#define TC__K256B(odd, even) tc__fold(odd, _mm_shuffle_epi32(_mm_aeskeygenassist_si128(even, 0x00), 0xaa))

/* Expand a 16- or 32-byte key; 0 on success, -1 for another length. */
TC_AES_TARGET static int tc_aes_expand(tc_aes_key *k, const uint8_t *key, size_t len) {
    __m128i r[15];
    if (len == 16) {
        r[0] = _mm_loadu_si128((const __m128i *)key);
        r[1] = TC__K128(r[0], 0x01);  r[2] = TC__K128(r[1], 0x02);
        r[3] = TC__K128(r[2], 0x04);  r[4] = TC__K128(r[3], 0x08);
        r[5] = TC__K128(r[4], 0x10);  r[6] = TC__K128(r[5], 0x20);
        r[7] = TC__K128(r[6], 0x40);  r[8] = TC__K128(r[7], 0x80);
        r[9] = TC__K128(r[8], 0x1b);  r[10] = TC__K128(r[9], 0x36);
        k->rounds = 10;
    } else if (len == 32) {
        r[0] = _mm_loadu_si128((const __m128i *)key);
        r[1] = _mm_loadu_si128((const __m128i *)(key + 16));
        r[2] = TC__K256A(r[0], r[1], 0x01);   r[3] = TC__K256B(r[1], r[2]);
        r[4] = TC__K256A(r[2], r[3], 0x02);   r[5] = TC__K256B(r[3], r[4]);
        r[6] = TC__K256A(r[4], r[5], 0x04);   r[7] = TC__K256B(r[5], r[6]);
        r[8] = TC__K256A(r[6], r[7], 0x08);   r[9] = TC__K256B(r[7], r[8]);
        r[10] = TC__K256A(r[8], r[9], 0x10);  r[11] = TC__K256B(r[9], r[10]);
        r[12] = TC__K256A(r[10], r[11], 0x20); r[13] = TC__K256B(r[11], r[12]);
        r[14] = TC__K256A(r[12], r[13], 0x40);
        k->rounds = 14;
    } else {
        k->rounds = 0;
        return -1;
    }
    for (int i = 0; i <= k->rounds; i++)
        _mm_storeu_si128((__m128i *)(k->rk + 16 * i), r[i]);
    memset(r, 0, sizeof r);
    return 0;
}

/* out[i] = AES_k(in[i]) for n 16-byte blocks (in and out may be the same). */
TC_AES_TARGET static void tc_aes_ecb(const tc_aes_key *k, const uint8_t *in, uint8_t *out, size_t n) {
    const __m128i *rk = (const __m128i *)k->rk;
    const int rounds = k->rounds;
    size_t i = 0;
    for (; i + 4 <= n; i += 4) {   /* four blocks in flight: AESENC's latency overlaps */
        __m128i key = _mm_loadu_si128(rk);
        __m128i a = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(in + 16 * i)), key);
        __m128i b = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(in + 16 * i + 16)), key);
        __m128i c = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(in + 16 * i + 32)), key);
        __m128i d = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(in + 16 * i + 48)), key);
        for (int r = 1; r < rounds; r++) {
            key = _mm_loadu_si128(rk + r);
            a = _mm_aesenc_si128(a, key); b = _mm_aesenc_si128(b, key);
            c = _mm_aesenc_si128(c, key); d = _mm_aesenc_si128(d, key);
        }
        key = _mm_loadu_si128(rk + rounds);
        _mm_storeu_si128((__m128i *)(out + 16 * i), _mm_aesenclast_si128(a, key));
        _mm_storeu_si128((__m128i *)(out + 16 * i + 16), _mm_aesenclast_si128(b, key));
        _mm_storeu_si128((__m128i *)(out + 16 * i + 32), _mm_aesenclast_si128(c, key));
        _mm_storeu_si128((__m128i *)(out + 16 * i + 48), _mm_aesenclast_si128(d, key));
    }
    for (; i < n; i++) {
        __m128i a = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(in + 16 * i)), _mm_loadu_si128(rk));
        for (int r = 1; r < rounds; r++)
            a = _mm_aesenc_si128(a, _mm_loadu_si128(rk + r));
        _mm_storeu_si128((__m128i *)(out + 16 * i), _mm_aesenclast_si128(a, _mm_loadu_si128(rk + rounds)));
    }
}

#else   /* no AES-NI here: FF1 keeps to cryptography */
static int tc_aes_supported(void) { return 0; }
static int tc_aes_expand(tc_aes_key *k, const uint8_t *key, size_t len) {
    (void)key; (void)len; k->rounds = 0; return -1;
}
static void tc_aes_ecb(const tc_aes_key *k, const uint8_t *in, uint8_t *out, size_t n) {
    (void)k; (void)in; (void)out; (void)n;
}
#endif

static void tc_aes_wipe(tc_aes_key *k) {
    volatile uint8_t *p = (volatile uint8_t *)k;
    for (size_t i = 0; i < sizeof *k; i++) p[i] = 0;
}

#endif
