# The C-level contract of a check-character system, in the style of numpy's
# bitgen_t: other Cython modules (bulk issuance, the scan parser) call a
# system's kernel through this pointer without touching Python.
#
# calc(payload, n, out): write the check character(s) of payload[0:n] to out
# and return how many were written (1 or 2); return -(i + 1) when payload[i]
# is outside the system's input alphabet. Input is ASCII, already normalised
# (digits, upper-case letters); kernels never allocate and never hold the GIL.
ctypedef Py_ssize_t (*calc_fn)(const unsigned char *payload, Py_ssize_t n,
                               unsigned char *out) noexcept nogil
