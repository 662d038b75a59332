"""Opening (creating) an LMDB database while another thread of the process holds the
write lock and needs the GIL to finish (the scan log's writer) must wait, not deadlock:
py-lmdb's open_db waits for the lock holding the GIL. Found through the service: a
WhoAmI (which opens the registry's databases) right after a verify_many hung a worker."""
import subprocess
import sys

SCENARIO = r"""
import sys, tempfile, threading, time
import lmdb
from tracecode.store.lmdb.env import open_db
env = lmdb.open(tempfile.mkdtemp(), max_dbs=8)
holding = threading.Event()

def writer():  # Python work inside a write transaction: it needs the GIL to commit
    with env.begin(write=True) as txn:
        holding.set()
        end = time.monotonic() + 0.5
        while time.monotonic() < end:
            txn.put(b"k", b"v")
            time.sleep(0.001)
t = threading.Thread(target=writer)
t.start()
holding.wait()
open_db(env, b"created-meanwhile")
t.join()
with env.begin() as txn:
    assert txn.get(b"k") == b"v"
print("ok")
"""


def test_open_db_waits_for_a_writer_thread_instead_of_deadlocking():
    try:
        out = subprocess.run([sys.executable, "-c", SCENARIO], capture_output=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError("open_db deadlocked against a writer thread") from None
    assert out.returncode == 0 and out.stdout == b"ok\n", out.stderr.decode()
