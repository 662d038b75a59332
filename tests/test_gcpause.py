"""The collector pause of bulk calls (tracecode.index.gcpause): nested and threaded calls
leave the collector as they found it, and it keeps collecting while calls overlap."""
import gc
import threading
import weakref

from tracecode.index import gcpause


def test_the_threshold_is_raised_inside_and_as_before_after():
    before = gc.get_threshold()
    with gcpause.paused():
        assert gc.get_threshold()[0] == gcpause.PAUSED_GEN0 and gc.get_threshold()[1:] == before[1:]
        with gcpause.paused():
            assert gc.get_threshold()[0] == gcpause.PAUSED_GEN0
        assert gc.get_threshold()[0] == gcpause.PAUSED_GEN0   # the outer call is still running
        assert gc.isenabled()
    assert gc.get_threshold() == before


def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    try:
        with gcpause.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


class _Node:
    pass


def test_cycles_are_still_collected_while_calls_overlap_without_end():
    """A server whose calls overlap keeps the pause on; other threads' cycles must still go."""
    inside, leave = threading.Barrier(2), threading.Event()

    def call():
        with gcpause.paused():
            inside.wait()
            leave.wait()
    t = threading.Thread(target=call)
    t.start()
    inside.wait()
    try:
        node = _Node()
        node.me = node            # a cycle only the collector reclaims
        gone = weakref.ref(node)
        del node
        keep = [[] for _ in range(3 * gcpause.PAUSED_GEN0)]   # allocations the threshold counts
        assert gone() is None
        del keep
    finally:
        leave.set()
        t.join()


def test_overlapping_calls_of_threads_restore_it_once_the_last_ends():
    before = gc.get_threshold()
    inside, leave = threading.Barrier(3), threading.Event()

    def call():
        with gcpause.paused():
            inside.wait()
            leave.wait()
    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    inside.wait()
    assert gc.get_threshold()[0] == gcpause.PAUSED_GEN0
    leave.set()
    for t in threads:
        t.join()
    assert gc.get_threshold() == before


def test_an_exception_ends_the_pause():
    before = gc.get_threshold()
    try:
        with gcpause.paused():
            raise KeyError("x")
    except KeyError:
        pass
    assert gc.get_threshold() == before
