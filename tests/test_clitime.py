"""The one reading of a CLI time option (tracecode.clitime), as `audit show --since` and
`privacy purge --before` use it: each command's own error, naming its option."""
import datetime as dt
import doctest

import pytest

from tracecode import audit_cli, clitime, privacy_cli


def test_the_doctests():
    assert doctest.testmod(clitime).failed == 0


def test_audit_and_privacy_read_times_alike():
    for text in ("2026-12-01", "2026-12-01T08:00", "2026-12-01T08:00+08:00"):
        want = dt.datetime.fromisoformat(text)
        want = (want if want.tzinfo else want.astimezone()).timestamp()
        assert audit_cli._since(text) == privacy_cli._cutoff(text) == want
    assert audit_cli._since("1764547200.5") == 1764547200.5   # audit also takes a Unix time


def test_a_bad_time_is_each_commands_own_error_naming_its_option():
    with pytest.raises(audit_cli.AuditCliError, match=r"--since 'soon'.*or a Unix time"):
        audit_cli._since("soon")
    with pytest.raises(privacy_cli.PrivacyCliError, match=r"--before 'soon': give an ISO date") as e:
        privacy_cli._cutoff("soon")
    assert "Unix" not in str(e.value)
