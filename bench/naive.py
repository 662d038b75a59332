"""The naive way to issue codes, the baseline of the issuance benchmarks: Python `secrets`
for an unpredictable serial, python-stdnum for the check digit, a set to refuse repeats.

    python bench/naive.py N     # issue N codes; print the seconds and peak memory as JSON
"""
import secrets
import sys
import time

from stdnum import damm


def naive_issue(n):
    seen, out = set(), []
    while len(out) < n:
        serial = f"{secrets.randbelow(10**12):012d}"
        if serial in seen:
            continue
        seen.add(serial)
        body = "8177322" + serial
        out.append(body + damm.calc_check_digit(body))
    return out


if __name__ == "__main__":
    from tracecode.capacity.memory import PrivatePeak, report
    with PrivatePeak() as private:
        t = time.perf_counter()
        naive_issue(int(sys.argv[1]))
        seconds = time.perf_counter() - t
    report(seconds=seconds, peak_private_bytes=private.peak)
