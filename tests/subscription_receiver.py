"""A real webhook receiver for the subscription tests: an HTTP server on a loopback port in a
thread of the test process, recording every POST (body, headers) it answers 2xx; it can be
taken down (the port closed: connections refused) and brought back on the same port, or
told to answer an error status for a while.

    with Receiver() as rx:
        ...subscribe rx.url...
        rx.down(); rx.up()
        rx.events()    # every delivered event, in delivery order (duplicates kept)
"""
from __future__ import annotations

import asyncio
import contextlib
import http.server
import json
import threading
import time


class Receiver:
    def __init__(self, status: int = 200, delay: float = 0.0):
        self.status = status
        self.delay = delay                # seconds before each answer (a slow platform)
        self.deliveries: list = []        # (body bytes, headers dict) of each 2xx answered
        self.refused = 0                  # POSTs answered with an error status
        self._ids: list = []              # the eventIDs delivered, in order
        self.lock = threading.Lock()
        self.port = 0
        self.server = None
        self.thread = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def up(self) -> "Receiver":
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                time.sleep(receiver.delay)
                status = receiver.status
                with receiver.lock:
                    if 200 <= status < 300:
                        receiver.deliveries.append((body, {k.lower(): v for k, v in self.headers.items()}))
                        doc = json.loads(body)   # once, here: a test polling ids() does not parse again
                        if "epcisBody" in doc:   # else an exception delivered (QueryTooLargeException)
                            receiver._ids += [e["eventID"] for e in
                                              doc["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]
                    else:
                        receiver.refused += 1
                self.send_response(status)
                self.send_header("content-length", "0")
                self.send_header("connection", "close")   # no keep-alive: down() is down for everyone
                self.close_connection = True
                self.end_headers()

            def log_message(self, *args):
                pass

        http.server.ThreadingHTTPServer.allow_reuse_address = True
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        return self

    def down(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)

    def __enter__(self):
        return self.up()

    def __exit__(self, *exc):
        if self.thread.is_alive():
            self.down()

    def documents(self) -> list:
        with self.lock:
            return [json.loads(body) for body, _ in self.deliveries]

    def events(self) -> list:
        return [e for d in self.documents() for e in d["epcisBody"]["queryResults"]["resultsBody"]["eventList"]]

    def ids(self) -> list:
        with self.lock:
            return list(self._ids)

    def wait_for(self, predicate, timeout: float = 60.0, what: str = "deliveries"):
        deadline = time.monotonic() + timeout
        while not predicate(self):
            if time.monotonic() > deadline:
                raise AssertionError(f"{what} not seen within {timeout:g} s: {len(self.deliveries)} deliveries, "
                                     f"{len(self.ids())} events, {self.refused} refused")
            time.sleep(0.05)


@contextlib.contextmanager
def delivery_thread(svc, lease_s: float = 2.0, **kw):
    """A DeliveryRunner over `svc` in a thread with its own event loop, stopped (and checked
    stopped) on leaving."""
    from tracecode.serve.delivery import DeliveryRunner
    runner = DeliveryRunner(svc, poll_s=0.02, lease_s=lease_s, timeout_s=2.0, **kw)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    thread = threading.Thread(target=loop.run_until_complete, args=(runner.run(stop),), daemon=True)
    thread.start()
    try:
        yield runner
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
        assert not thread.is_alive()
        loop.close()
