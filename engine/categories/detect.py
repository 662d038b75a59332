"""Which scheme a code that fits several is read by: by rule, never by order.

The scan parser's C core finds every scheme whose length, alphabets and
check characters a bare code satisfies (GS1: every GS1 scheme whose serial
it takes). One is the usual case and costs nothing here. When there are
more (custom schemes of one length: a 20-digit Luhn scheme next to
cn-drug-20 shares a tenth of its codes), each candidate is scored over
numpy arrays, per candidate scheme, never per scan in Python:

1. its product fields must keep their rules (choices, dates, a GTIN's check
   digit): a candidate that breaks one is out;
2. a product the index has issued under it (``known``) outweighs every rule
   below: only a code of an issued product can be genuine; and above that,
   with the master key, a serial that decrypts to a counter within the
   product's guessing bound (``counter_fits``): another scheme's code does
   so with odds below 1 in 10,000, so two issued products sharing a code's
   characters are told apart too;
3. a soft rule it breaks costs a point: its category's prefix declared but
   missing (drug codes in circulation start with 8; one that does not is
   less likely a drug code than a code of a scheme that asks nothing there).

Only broken rules count against a candidate, never rules kept: a code that
keeps the drug prefix is no evidence against a custom scheme that leaves its
first digit free, since that scheme's codes start with 8 too. The best score
wins; a tie is AMBIGUOUS (the candidates stay in the record), a fault, never
a silent misreading.
"""
from __future__ import annotations

import numpy as np

from . import of_scheme

KNOWN = 4           # outweighs the soft rules: only an issued product has genuine codes
COUNTER = 8         # outweighs KNOWN: the code decrypts to a counter its product may have
BASE = 1            # keeps a candidate's score >= 0 when its prefix is missing


def folds_case(scheme) -> bool:
    """Lower case reads as upper case in its codes, and they may hold letters at all
    (digit-only schemes skip the fold: it changes nothing)."""
    return scheme.case_insensitive and any(ch.isalpha() for f in scheme.code_fields
                                           for ch in f.alphabet)


def product_chars(scheme, codes: np.ndarray) -> np.ndarray:
    """(N, width) uint8: the product fields' characters of bare codes of the scheme."""
    raw = np.ascontiguousarray(codes.astype(f"S{scheme.length}")).view(np.uint8)
    raw = raw.reshape(len(codes), scheme.length)
    spans = [(scheme.offset(f.name), f.length) for f in scheme.product_fields]
    if not spans:
        return np.zeros((len(codes), 0), np.uint8)
    return np.ascontiguousarray(np.concatenate([raw[:, a:a + n] for a, n in spans], axis=1))


def scores(schemes, codes: np.ndarray, masks: np.ndarray, known=None,
           counter_fits=None) -> np.ndarray:
    """(N, len(schemes)) int64: each candidate's score, -1 where the scheme is not a
    candidate or breaks a product field's rule. ``codes``: the codes as typed (the C
    core keeps ambiguous ones unfolded); ``masks``: uint64 candidate bits;
    ``counter_fits(scheme, prod, codes)``: bool per code, its counter within the bound."""
    out = np.full((len(codes), len(schemes)), -1, np.int64)
    for si, scheme in enumerate(schemes):
        rows = np.flatnonzero((masks >> np.uint64(si)) & np.uint64(1))
        if not len(rows):
            continue
        mine = codes[rows]
        if folds_case(scheme):
            mine = np.char.upper(mine)
        prod = product_chars(scheme, mine)
        keeps = scheme.product_faults(prod) < 0 if prod.shape[1] else np.ones(len(rows), bool)
        points = BASE + np.minimum(of_scheme(scheme).prefix_score(mine), 0)
        if known is not None and prod.shape[1]:
            issued = known.rows(scheme, prod) & keeps
            points = points + KNOWN * issued
            if counter_fits is not None and issued.any():
                at = np.flatnonzero(issued)
                fits = np.zeros(len(rows), bool)
                fits[at] = counter_fits(scheme, prod[at], mine[at].astype(f"S{scheme.length}"))
                points = points + COUNTER * fits
        out[rows[keeps], si] = points[keeps]
    return out


def decide(schemes, codes: np.ndarray, masks: np.ndarray, known=None, counter_fits=None):
    """(winner, ambiguous) per code: the scheme index with the best score (-1 when every
    candidate breaks a product rule) and whether two or more share that score."""
    s = scores(schemes, codes, masks, known, counter_fits)
    best = s.max(axis=1)
    winner = np.where(best >= 0, s.argmax(axis=1), -1)
    tied = ((s == best[:, None]) & (best[:, None] >= 0)).sum(axis=1) > 1
    return winner, tied


def names(schemes, mask: int) -> list[str]:
    """The names of the schemes in a candidates mask."""
    return [s.name for i, s in enumerate(schemes) if mask >> i & 1]
