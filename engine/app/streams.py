"""Open streams per client, in one server process: a client that opens streams and
stops reading them holds a chunk per stream in this process (gRPC's flow control keeps
it to one: the next is made only once the client takes this one), so their number is
capped and one more is refused (too_many_streams). The server's engine runs on one event loop
thread, so a plain dict needs no lock."""
from __future__ import annotations

from contextlib import contextmanager

from . import limits
from .refusal import Refusal


class StreamSlots:
    def __init__(self, limit: int):
        self.limit = limit
        self.open: dict = {}        # client name -> streams open now

    @contextmanager
    def hold(self, client: str, method: str):
        n = self.open.get(client, 0)
        if n >= self.limit:
            raise Refusal(
                "too_many_streams", "", f"{client} already has {n} streams open on this server process "
                f"(at most {self.limit} at once, see WhoAmI limits): finish or cancel one "
                f"before opening another {method}", client=client)
        self.open[client] = n + 1
        try:
            yield
        finally:
            left = self.open[client] - 1
            if left:
                self.open[client] = left
            else:
                del self.open[client]


STREAMS = StreamSlots(limits.MAX_STREAMS_PER_CLIENT)
