"""What tracecode.epcis refuses: one error type carrying a JSON pointer, and Problem, one
fault found by validation (a document with several faults gets them all, each with its
pointer, so a capture job can name every bad event and keep the good ones)."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import TracecodeError


class EpcisError(TracecodeError, ValueError):
    """An EPCIS document, event or EPC that cannot be read. `pointer` is the JSON pointer
    (RFC 6901) of the part at fault ("" for the whole document).

    >>> str(EpcisError("not an EPC URI", pointer="/epcisBody/eventList/0/epcList/1"))
    '/epcisBody/eventList/0/epcList/1: not an EPC URI'
    """

    def __init__(self, message: str, *, pointer: str = ""):
        super().__init__(f"{pointer}: {message}" if pointer else message)
        self.pointer = pointer
        self.detail = message


@dataclass(frozen=True)
class Problem:
    """One fault: where (a JSON pointer into the document) and what, in words."""
    pointer: str
    message: str

    def __str__(self):
        return f"{self.pointer or '/'}: {self.message}"


def pointer(*parts) -> str:
    """A JSON pointer from its reference tokens, escaped as RFC 6901 says.

    >>> pointer("epcisBody", "eventList", 3, "example:a/b~c")
    '/epcisBody/eventList/3/example:a~1b~0c'
    """
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def event_index(ptr: str) -> int | None:
    """The index of the event a pointer is inside (eventList of a document or of a query
    document's results), None when it points at the document itself.

    >>> event_index("/epcisBody/eventList/12/epcList/0"), event_index("/creationDate")
    (12, None)
    """
    parts = ptr.split("/")
    for i, part in enumerate(parts[:-1]):
        if part == "eventList" and parts[i + 1].isascii() and parts[i + 1].isdigit():
            return int(parts[i + 1])
    return None
