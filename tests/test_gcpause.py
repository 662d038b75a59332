"""The collector pause of bulk calls (tracecode.index.gcpause): nested and threaded calls
leave the collector as they found it."""
import gc
import threading

from tracecode.index import gcpause


def test_the_collector_is_paused_inside_and_as_before_after():
    assert gc.isenabled()
    with gcpause.paused():
        assert not gc.isenabled()
        with gcpause.paused():
            assert not gc.isenabled()
        assert not gc.isenabled()   # the outer call is still running
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    try:
        with gcpause.paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_calls_of_threads_enable_it_once_the_last_ends():
    inside, leave = threading.Barrier(3), threading.Event()

    def call():
        with gcpause.paused():
            inside.wait()
            leave.wait()
    threads = [threading.Thread(target=call) for _ in range(2)]
    for t in threads:
        t.start()
    inside.wait()
    assert not gc.isenabled()
    leave.set()
    for t in threads:
        t.join()
    assert gc.isenabled()


def test_an_exception_ends_the_pause():
    try:
        with gcpause.paused():
            raise KeyError("x")
    except KeyError:
        pass
    assert gc.isenabled()
