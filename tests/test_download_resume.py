"""A download whose stream breaks resumes from the offset it reached (bindings/verbs.py,
chunks, as both clients run it); a break after the batch's last code (the stream's end
lost, as when a serving worker is killed at that moment) ends the download instead of
failing it on the server's "offset: batch N has M codes". Driven step by step, with the
server's refusals as bindings.status words them."""
from __future__ import annotations

import grpc
import pytest

from tracecode.app.refusal import Refusal
from tracecode.v1 import issuance_pb2 as ipb
from tracecode.v1.status import ServiceError, grpc_status
from tracecode.v1.verbs import END, Emit, Next, Open, Pause, Transfer, chunks


class Broken(grpc.RpcError):
    """An RpcError as a call raises it: a code, details and trailing metadata."""

    def __init__(self, status: grpc.Status):
        self._status = status

    def code(self):
        return self._status.code

    def details(self):
        return self._status.details

    def trailing_metadata(self):
        return self._status.trailing_metadata


def lost() -> Broken:
    return Broken(grpc_status(Refusal("unavailable", "", "connection reset")))


def refused(field: str, detail: str) -> Broken:
    return Broken(grpc_status(Refusal("invalid_argument", field, detail)))


def chunk(offset: int, n: int) -> ipb.CodeChunk:
    return ipb.CodeChunk(offset=offset, count=n, width=4,
                         codes=b"".join(f"{i:04d}".encode() for i in range(offset, offset + n)))


def run(dl, streams):
    """Drive chunks(dl) as a client would: each stream it opens is the next of `streams`,
    (its chunks, then the error it breaks with: None for its END). (the codes emitted,
    (offset, count) of each request sent)."""
    gen, got, sent, streams = chunks(dl), [], [], iter(streams)
    try:
        op = next(gen)
        while True:
            if isinstance(op, Open):
                sent.append((op.request.offset, op.request.count))
                items, error = next(streams)
                op = gen.send((iter(items), error))
            elif isinstance(op, Next):
                items, error = op.call
                item = next(items, END)
                op = gen.throw(error) if item is END and error is not None else gen.send(item)
            elif isinstance(op, Emit):
                got += [c.decode() for c in op.value.tolist()]
                op = gen.send(None)
            else:
                assert isinstance(op, Pause)
                op = gen.send(None)
    except StopIteration:
        return got, sent


class FakeClient:
    """What the retry policy reads of a client."""
    retry_timeout, on_retry, address = 30.0, staticmethod(lambda line: None), "127.0.0.1:1"


@pytest.fixture
def client():
    return FakeClient()


CODES = [f"{i:04d}" for i in range(5)]


def test_a_break_after_the_last_code_ends_the_download(client):
    dl = Transfer(client, 7)
    got, sent = run(dl, [([chunk(0, 3), chunk(3, 2)], lost()), ([], refused("offset", "batch 7 has 5 codes"))])
    assert got == CODES and sent == [(0, 0), (5, 0)]


def test_a_break_midway_resumes_from_the_offset_reached(client):
    got, sent = run(Transfer(client, 7), [([chunk(0, 3)], lost()), ([chunk(3, 2)], None)])
    assert got == CODES and sent == [(0, 0), (3, 0)]


def test_another_refusal_still_fails_the_download(client):
    """Only the offset refusal of a resumed download to the batch's end is its end: a first
    request refused, or a count refused, is the caller's error."""
    with pytest.raises(ServiceError, match="offset"):
        run(Transfer(client, 7, offset=9), [([], refused("offset", "batch 7 has 5 codes"))])
    with pytest.raises(ServiceError, match="count"):
        run(Transfer(client, 7, count=6), [([chunk(0, 5)], lost()), ([], refused("count", "past the end"))])


def test_a_count_received_whole_before_the_break_is_done(client):
    """count=3 of a 5-code batch, the stream broken after its third code: no request for
    "3 more from 3" (count 0 is the rest of the batch), nothing past the count."""
    got, sent = run(Transfer(client, 7, count=3), [([chunk(0, 3)], lost())])
    assert got == CODES[:3] and sent == [(0, 3)]
    got, sent = run(Transfer(client, 7, count=5), [([chunk(0, 5)], lost())])
    assert got == CODES and sent == [(0, 5)]
