# Type stub of the LMDB C-API bridge (_lmdb.pyx); its kernels are cimported through _lmdb.pxd.
from ...errors import TracecodeError

class IncompatibleLmdb(TracecodeError, RuntimeError): ...
