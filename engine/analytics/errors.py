"""The analytics' public error."""
from __future__ import annotations

from ..errors import TracecodeError


class AnalyticsError(TracecodeError):
    """A rule, parameter, engine or export directory the analytics cannot use."""
