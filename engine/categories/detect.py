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
# With the index, a layout of codes others assign (no check character, never issued here)
# costs a point: its genuine codes are known by their registration, whose record names the
# scheme (the index's answer says it), not by detection; without the index it ties.
EXTERNAL = 1


_FOLDS: dict = {}   # id(scheme) -> (scheme, folds): asked per candidate per call, fixed per scheme


def folds_case(scheme) -> bool:
    """Lower case reads as upper case in its codes, and they may hold letters at all
    (digit-only schemes skip the fold: it changes nothing)."""
    hit = _FOLDS.get(id(scheme))
    if hit is None or hit[0] is not scheme:
        hit = _FOLDS[id(scheme)] = (scheme, scheme.case_insensitive and any(
            ch.isalpha() for f in scheme.code_fields for ch in f.alphabet))
    return hit[1]


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
    ``counter_fits(scheme, prod, codes)``: bool per code, its counter within the bound.

    An issued candidate scores at least KNOWN, any other at most BASE + 1, so a code
    with exactly one issued candidate is decided by it: its other candidates are not
    scored (left -1: their product rules cost nothing). ``counter_fits`` is asked only
    of codes with two or more issued candidates, where it can change the winner."""
    out = np.full((len(codes), len(schemes)), -1, np.int64)
    present = int(np.bitwise_or.reduce(masks)) if len(masks) else 0
    cands = []   # (scheme index, candidate rows, their codes, product characters)
    for si, scheme in enumerate(schemes):
        if not present >> si & 1:   # no code has this candidate: nothing to score
            continue
        rows = np.flatnonzero((masks >> np.uint64(si)) & np.uint64(1))
        mine = codes if len(rows) == len(codes) else codes[rows]
        if folds_case(scheme):
            mine = np.char.upper(mine)
        cands.append((si, rows, mine, product_chars(scheme, mine)))
    # 1. issued: a product the index issued whose fields keep their rules
    issued_of, n_issued = {}, np.zeros(len(codes), np.int64)
    for si, rows, _mine, prod in cands:
        if known is None or not prod.shape[1]:
            continue
        at = np.flatnonzero(known.rows(schemes[si], prod))
        if len(at):
            at = at[schemes[si].product_faults(prod[at]) < 0]
            issued = np.zeros(len(rows), bool)
            issued[at] = True
            issued_of[si] = issued
            n_issued[rows[at]] += 1
    alone = n_issued == 1
    # 2. the others' rules and prefixes, where the issued candidate alone does not decide
    for si, rows, mine, prod in cands:
        scheme = schemes[si]
        issued = issued_of.get(si)
        todo = ~alone[rows] if issued is None else ~alone[rows] | issued
        if not todo.all():
            rows, mine, prod = rows[todo], mine[todo], prod[todo]
            issued = None if issued is None else issued[todo]
        if not len(rows):
            continue
        if issued is None:
            issued = np.zeros(len(rows), bool)
            keeps = scheme.product_faults(prod) < 0 if prod.shape[1] else np.ones(len(rows), bool)
        else:   # issued rows keep their rules (step 1): only the rest are checked
            keeps = issued.copy()
            rest = np.flatnonzero(~issued)
            if len(rest):
                keeps[rest] = scheme.product_faults(prod[rest]) < 0 if prod.shape[1] else True
        points = _points(of_scheme(scheme).prefix_score(mine), issued, False)
        if scheme.external and known is not None:
            points = points - EXTERNAL
        if counter_fits is not None and issued.any():
            at = np.flatnonzero(issued & (n_issued[rows] > 1))
            if len(at):
                fits = counter_fits(scheme, prod[at], mine[at].astype(f"S{scheme.length}"))
                points[at] += COUNTER * fits   # _points' last term, now known
        out[rows[keeps], si] = points[keeps]
    if known is None:
        _tie_external(schemes, out)
    return out


def _tie_external(schemes, out: np.ndarray) -> None:
    """Without the index an external candidate scores what the best other candidate scores:
    its codes are told by their registration alone, so neither its missing check character
    nor another scheme's missing prefix may decide (21603101012024010008 keeps cn-drug-20's
    check without its prefix 8 and cn-equip-reg-20's layout: AMBIGUOUS, naming both)."""
    ext = np.array([s.external for s in schemes], bool)
    if not ext.any() or ext.all():
        return
    others = np.where(out[:, ~ext] >= 0, out[:, ~ext], -1).max(axis=1)
    for si in np.flatnonzero(ext):
        at = (out[:, si] >= 0) & (others >= 0)
        out[at, si] = others[at]


def _points(prefix, issued, fits):
    """A candidate's score from its evidence, numpy columns or scalars alike (the one
    formula of both deciders): prefix is +1/0/-1 (prefix_score), only a missing one counts."""
    return BASE - (prefix < 0) + KNOWN * issued + COUNTER * fits


def _prefix_one(scheme, code: bytes) -> int:
    """Category.prefix_score of one code."""
    prefixes = of_scheme(scheme).prefixes
    if not prefixes:
        return 0
    return 1 if any(code.startswith(p.encode("ascii")) for p in prefixes) else -1


def decide_one(schemes, code: bytes, mask: int, keeps, issued, counter_fits=None, indexed=False):
    """decide() for one code, without numpy (the single-scan path): the same evidence
    per candidate, from the scalar forms of its rules — ``keeps(scheme, code)``: the
    product fields keep their rules (Scheme.product_values, which product_faults agrees
    with); ``issued(scheme, code)``: known.has of its product; ``counter_fits(scheme,
    code)`` asked only where two or more candidates are issued — scored by the same
    _points and won as argmax wins (the lowest scheme index on equal scores)."""
    every = [(si, scheme, code.upper() if folds_case(scheme) else code)
             for si, scheme in enumerate(schemes) if mask >> si & 1]
    sure = [si for si, scheme, mine in every if issued(scheme, mine) and keeps(scheme, mine)]
    if len(sure) == 1:   # one issued candidate decides (as scores() leaves the others unscored)
        return sure[0], False
    cands = [(si, scheme, mine, si in sure) for si, scheme, mine in every if keeps(scheme, mine)]
    if not cands:
        return -1, False
    several = sum(iss for *_, iss in cands) > 1
    got = [(_points(_prefix_one(scheme, mine), iss,
                    bool(several and iss and counter_fits is not None and counter_fits(scheme, mine)))
            - (EXTERNAL if indexed and scheme.external else 0), si)
           for si, scheme, mine, iss in cands]
    others = [p for (p, si), (_, scheme, *_r) in zip(got, cands) if not scheme.external]
    if not indexed and others:   # as scores()' _tie_external: an external candidate ties the best other
        got = [(max(others) if scheme.external else p, si) for (p, si), (_, scheme, *_r) in zip(got, cands)]
    best = max(p for p, _ in got)
    winners = [si for p, si in got if p == best]
    return winners[0], len(winners) > 1


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
