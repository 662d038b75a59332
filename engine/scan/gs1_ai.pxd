# GS1 Application Identifiers for the nogil parser: every AI GS1 has assigned,
# with its format, filled at import from GS1's Barcode Syntax Dictionary
# (tracecode.schemes.gs1_ai, the one source; _parse.pyx's _load_ai_table).
# Indexed by digits and value: a 2-digit AI at its value, a 3-digit one at
# 100 + value, a 4-digit one at 1100 + value; digits 0 means not assigned.
# GS1 keeps AIs prefix-free, so at most one of the three readings matches.
from libc.stdint cimport uint8_t

cdef extern from *:
    """
    #ifndef TRACECODE_GS1_AI_H
    #define TRACECODE_GS1_AI_H
    #define TC_AI_SLOTS 11100
    #define TC_AI_PARTS 6
    /* kind: 1 N (digits), 2 X (character set 82), 3 Y (set 39), 4 Z (base64url);
       date: 0 none, 1 YYMMDD with DD 00 allowed, 2 YYMMDD, 3 YYYYMMDD */
    typedef struct { unsigned char kind, min, max, optional, date; } tc_ai_part;
    typedef struct {
        unsigned char digits, predefined, numeric, min_len, max_len, nparts;
        tc_ai_part parts[TC_AI_PARTS];
    } tc_ai;
    static tc_ai tc_ai_table[TC_AI_SLOTS];
    #endif
    """
    enum:
        TC_AI_SLOTS
        TC_AI_PARTS
    ctypedef struct tc_ai_part:
        uint8_t kind
        uint8_t min
        uint8_t max
        uint8_t optional
        uint8_t date
    ctypedef struct tc_ai:
        uint8_t digits
        uint8_t predefined
        uint8_t numeric       # every component is digits
        uint8_t min_len
        uint8_t max_len
        uint8_t nparts
        tc_ai_part parts[TC_AI_PARTS]
    tc_ai tc_ai_table[TC_AI_SLOTS]
