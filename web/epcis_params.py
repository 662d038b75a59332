"""The HTTP side of the EPCIS query parameters: the table and its reading are the
application layer's (tracecode.app.epcis_params: also named queries and gRPC read them);
here, what a page's Link rel="next" carries.

>>> query_string({"EQ_bizStep": "shipping", "nextPageToken": "t1"}, "t2")
'EQ_bizStep=shipping&nextPageToken=t2'
"""
from __future__ import annotations

from ..app.epcis_params import (DEFAULT_PER_PAGE, EPC_ROLES, EVENT_TYPES, MAX_PER_PAGE, PAGING,  # noqa: F401
                                PARAMETERS, PREFIXED, fields, multi_items, parse, parse_time)


def query_string(params, page_token: str) -> str:
    """The same query with its nextPageToken replaced: the Link rel="next" of a page (the
    token carries what is left of an eventCountLimit)."""
    from urllib.parse import urlencode
    kept = [(k, v) for k, v in multi_items(params) if k != "nextPageToken"]
    return urlencode([*kept, ("nextPageToken", page_token)], safe="|:/")
