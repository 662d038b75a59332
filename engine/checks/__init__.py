"""Check-character systems: one check character (two for MOD 97-10) appended to a payload.

=========== ======================================== ============= ===========
name        standard                                 payload       check
=========== ======================================== ============= ===========
gs1         GS1 mod 10, weights 3,1 from the right   0-9           0-9
luhn        Luhn (ISO/IEC 7812-1)                    0-9           0-9
luhn36      Luhn mod N over 0-9A-Z                   0-9A-Z        0-9A-Z
verhoeff    Verhoeff (dihedral group D5)             0-9           0-9
damm        Damm (python-stdnum's table)             0-9           0-9
mod11_2     ISO/IEC 7064 MOD 11-2                    0-9           0-9 X
mod37_2     ISO/IEC 7064 MOD 37-2                    0-9A-Z        0-9A-Z *
mod97_10    ISO/IEC 7064 MOD 97-10 (letters 10..35)  0-9A-Z        two of 0-9
mod11_10    ISO/IEC 7064 MOD 11,10 (hybrid)          0-9           0-9
mod37_36    ISO/IEC 7064 MOD 37,36 (hybrid)          0-9A-Z        0-9A-Z
=========== ======================================== ============= ===========

Every system catches every single substitution. Adjacent transpositions of
unequal characters are all caught except: gs1, two digits differing by 5; luhn,
09/90; luhn36, 0Z/Z0; mod11_10 and mod37_36, two values differing by 1 mod 10
(mod 36: 01, 12, ..., 9A, ..., YZ, Z0), in one context out of 10 (36): see
iso7064.pxd. MOD 97-10 catches all of them for numeric payloads.
Results match python-stdnum (ean, luhn, verhoeff, damm, iso7064), which
the tests use as the oracle.

Each system has python-stdnum's vocabulary:

>>> from tracecode.checks import GS1, MOD11_2, MOD97_10, MOD37_36, get
>>> GS1.calc('629104150021')
'3'
>>> GS1.validate(' 629104-150021 3 ')
'6291041500213'
>>> GS1.is_valid('6291041500214')
False
>>> GS1.validate('6291041500214')
Traceback (most recent call last):
    ...
tracecode.errors.InvalidChecksum: gs1: wrong check character(s)
>>> try:
...     GS1.validate('62910415O0213')
... except ValueError as e:
...     print(type(e).__name__, e.position)
InvalidFormat 8
>>> MOD11_2.calc('079'), MOD97_10.calc('99991234567890121414'), MOD37_36.calc('a12425gabc1234002'.upper())
('X', '90', 'M')
>>> get('damm').validate('5724')
'5724'

and bulk forms over numpy arrays (S<width>, or 2-D uint8), with no Python per code:

>>> import numpy as np
>>> GS1.calc_many(np.array([b'629104150021', b'950110153000']))
array([b'3', b'3'], dtype='|S1')
>>> codes = np.array([b'6291041500213', b'6291041500214', b'12'])
>>> GS1.validate_many(codes)
array([ True, False, False])
>>> out = np.empty(3, dtype=bool)
>>> GS1.validate_many(codes, out=out) is out
True

Other Cython modules call a system's C kernel directly: cimport CheckSystem
from tracecode.checks._systems and call its `kernel` field (kernels.pxd).
"""
from tracecode.checks._systems import (
    DAMM,
    GS1,
    LUHN,
    LUHN36,
    MOD11_2,
    MOD11_10,
    MOD37_2,
    MOD37_36,
    MOD97_10,
    SYSTEMS,
    VERHOEFF,
    CheckSystem,
    get,
)
from tracecode.errors import UnknownCheckSystem

__all__ = [
    "CheckSystem", "SYSTEMS", "get", "UnknownCheckSystem",
    "GS1", "LUHN", "LUHN36", "VERHOEFF", "DAMM",
    "MOD11_2", "MOD37_2", "MOD97_10", "MOD11_10", "MOD37_36",
]
