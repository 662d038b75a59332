"""A small HTTP/1.1 load generator, for measuring a server from another process where wrk is
not installed (`tracecode capacity`): keep-alive connections on one asyncio loop, each
sending GETs one after another through a list of paths for a number of seconds.

    python -m tracecode.serve.load http://127.0.0.1:8080 --paths paths.txt --seconds 3

prints one JSON object: requests, seconds, rate (requests/s), p50_s, p90_s, p99_s and
statuses (a count per status class, "2xx"...). Plain HTTP only: it measures a server on
loopback, not a network.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from urllib.parse import urlsplit

import numpy as np


async def _read_response(reader) -> int:
    status = int((await reader.readline()).split()[1])
    length, chunked = 0, False
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def _connection(host, port, requests: list, start: int, deadline: float, lat: list,
                      statuses: dict) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        i = start
        while time.perf_counter() < deadline:
            t = time.perf_counter()
            writer.write(requests[i % len(requests)])
            i += 1
            status = await _read_response(reader)
            lat.append(time.perf_counter() - t)
            key = f"{status // 100}xx"
            statuses[key] = statuses.get(key, 0) + 1
    finally:
        writer.close()


async def _run(url: str, paths: list, accept: str, connections: int, seconds: float) -> dict:
    parts = urlsplit(url)
    if parts.scheme != "http":
        raise SystemExit(f"{url}: plain http:// only")
    host, port = parts.hostname, parts.port or 80
    requests = [f"GET {p} HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: {accept}\r\n"
                f"Accept-Language: zh-CN,zh;q=0.9\r\n\r\n".encode() for p in paths]
    lat: list = []
    statuses: dict = {}
    t0 = time.perf_counter()
    deadline = t0 + seconds
    step = max(1, len(requests) // max(connections, 1))
    await asyncio.gather(*(_connection(host, port, requests, i * step, deadline, lat, statuses)
                           for i in range(connections)))
    elapsed = time.perf_counter() - t0
    arr = np.array(lat) if lat else np.zeros(1)
    return {"requests": len(lat), "seconds": elapsed, "rate": len(lat) / elapsed,
            "p50_s": float(np.percentile(arr, 50)), "p90_s": float(np.percentile(arr, 90)),
            "p99_s": float(np.percentile(arr, 99)), "statuses": statuses}


def run(url: str, paths: list, *, accept: str = "*/*", connections: int = 8,
        seconds: float = 3.0) -> dict:
    try:
        import uvloop
        return uvloop.run(_run(url, paths, accept, connections, seconds))
    except ImportError:
        return asyncio.run(_run(url, paths, accept, connections, seconds))


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m tracecode.serve.load", description=__doc__.split("\n\n")[0])
    p.add_argument("url", help="http://HOST:PORT")
    p.add_argument("--paths", required=True, help="file of request paths, one a line")
    p.add_argument("--accept", default="*/*")
    p.add_argument("--connections", type=int, default=8)
    p.add_argument("--seconds", type=float, default=3.0)
    args = p.parse_args(argv)
    with open(args.paths, encoding="utf-8") as f:
        paths = [line.strip() for line in f if line.strip()]
    if not paths:
        p.error(f"{args.paths}: no paths")
    print(json.dumps(run(args.url, paths, accept=args.accept, connections=args.connections,
                         seconds=args.seconds)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
