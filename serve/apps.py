"""App factories for `tracecode serve --http-app tracecode.serve.apps:NAME`, for measuring."""
from __future__ import annotations


def unlimited(service, *, base_url: str):
    """The public window as served by default, without its rate limits: a load generator is
    one address asking thousands of times a second, which is what the limits stop. For
    measurements (`tracecode capacity`, bench/), never for the public."""
    from ..web.app import create_app
    from ..web.settings import WebSettings
    return create_app(service, base_url=base_url, settings=WebSettings(per_address=0, per_network=0,
                                                                     per_product=0))
