"""tracecode: issue product trace codes in bulk and verify scans of them.

>>> import tracecode, tempfile, os
>>> d = tracecode.init(os.path.join(tempfile.mkdtemp(), "data"))
>>> batch = d.issue("cn-drug-20", {"drug_id": "8177322"}, 1000)
>>> codes = batch.codes()
>>> len(codes), codes.dtype
(1000, dtype('S20'))
>>> d.scheme("cn-drug-20").is_valid(codes[0].decode())
True
>>> d.issue("cn-drug-20", {"drug_id": "8177322"}, 10).start  # counters never repeat
1000
>>> d.close()
"""
from . import checks, errors, schemes
from .datadir import Batch, DataDir, init, open
from .errors import TracecodeError
from .fpe.ff1 import FF1
from .issuance import Issuer
from .keys import Key

__version__ = "0.1.0"
__all__ = ["Batch", "DataDir", "FF1", "Issuer", "Key", "TracecodeError", "checks", "errors",
           "init", "open", "schemes", "__version__"]
