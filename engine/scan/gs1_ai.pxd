# GS1 Application Identifiers by their first two digits (GS1 General
# Specifications, section 7.8): how many digits the AI has, whether its length
# is predefined (no FNC1 separator after it), the data length (exact when
# predefined, else the longest AI of that prefix) and whether the data is
# numeric. Prefixes GS1 has not assigned are unknown (ai_digits 0).
from libc.stdint cimport uint8_t

cdef extern from *:
    """
    #ifndef TRACECODE_GS1_AI_H
    #define TRACECODE_GS1_AI_H
    typedef struct { unsigned char ai_digits, predefined, data_len, numeric; } tc_ai_prefix;
    /* {AI digits, predefined length?, data length (max if variable), numeric?} */
    static const tc_ai_prefix tc_ai_table[100] = {
        [0] = {2, 1, 18, 1},  /* 00 SSCC */
        [1] = {2, 1, 14, 1},  /* 01 GTIN */
        [2] = {2, 1, 14, 1},  /* 02 GTIN of contained items */
        [3] = {2, 1, 14, 1},  /* 03 (reserved, predefined) */
        [4] = {2, 1, 16, 1},  /* 04 (reserved, predefined) */
        [10] = {2, 0, 20, 0}, /* 10 batch/lot */
        [11] = {2, 1, 6, 1}, [12] = {2, 1, 6, 1}, [13] = {2, 1, 6, 1}, [14] = {2, 1, 6, 1},
        [15] = {2, 1, 6, 1}, [16] = {2, 1, 6, 1}, [17] = {2, 1, 6, 1}, [18] = {2, 1, 6, 1},
        [19] = {2, 1, 6, 1},  /* 11-19 dates YYMMDD */
        [20] = {2, 1, 2, 1},  /* 20 variant */
        [21] = {2, 0, 20, 0}, /* 21 serial */
        [22] = {2, 0, 20, 0}, /* 22 consumer product variant */
        [23] = {3, 0, 28, 0}, /* 235 third-party serial */
        [24] = {3, 0, 30, 0}, /* 240-243 */
        [25] = {3, 0, 30, 0}, /* 250-255 */
        [30] = {2, 0, 8, 1},  /* 30 variable count */
        [31] = {4, 1, 6, 1}, [32] = {4, 1, 6, 1}, [33] = {4, 1, 6, 1}, [34] = {4, 1, 6, 1},
        [35] = {4, 1, 6, 1}, [36] = {4, 1, 6, 1},  /* 31nn-36nn trade measures */
        [37] = {2, 0, 8, 1},  /* 37 count of trade items */
        [39] = {4, 0, 18, 1}, /* 390n-395n amounts */
        [40] = {3, 0, 30, 0}, /* 400-403 */
        [41] = {3, 1, 13, 1}, /* 410-417 GLNs */
        [42] = {3, 0, 20, 0}, /* 420-427 */
        [43] = {4, 0, 70, 0}, /* 4300-4326 */
        [70] = {4, 0, 30, 0}, /* 7001-7041 */
        [71] = {3, 0, 20, 0}, /* 710-717 national healthcare reimbursement numbers */
        [72] = {4, 0, 30, 0}, /* 7230-7259 */
        [80] = {4, 0, 70, 0}, [81] = {4, 0, 70, 0}, [82] = {4, 0, 70, 0},  /* 8001-8200 */
        [90] = {2, 0, 30, 0}, [91] = {2, 0, 90, 0}, [92] = {2, 0, 90, 0}, [93] = {2, 0, 90, 0},
        [94] = {2, 0, 90, 0}, [95] = {2, 0, 90, 0}, [96] = {2, 0, 90, 0}, [97] = {2, 0, 90, 0},
        [98] = {2, 0, 90, 0}, [99] = {2, 0, 90, 0},  /* 90-99 internal */
    };
    #endif
    """
    ctypedef struct tc_ai_prefix:
        uint8_t ai_digits
        uint8_t predefined
        uint8_t data_len
        uint8_t numeric
    const tc_ai_prefix tc_ai_table[100]
