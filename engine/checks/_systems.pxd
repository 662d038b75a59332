from tracecode.checks.kernels cimport calc_fn


cdef class CheckSystem:
    """One check-character system: its C kernel and its Python vocabulary."""
    cdef readonly str name
    # Characters the system appends: 1, or 2 for ISO/IEC 7064 MOD 97-10.
    cdef readonly int check_len
    # Characters a payload may hold (after compact()).
    cdef readonly str alphabet
    # Characters a check character may be (e.g. MOD 11-2 adds 'X').
    cdef readonly str check_alphabet
    # The C kernel: other Cython modules call it without touching Python.
    cdef calc_fn kernel
