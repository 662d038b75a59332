"""Every error tracecode raises on purpose derives from TracecodeError.

The validation branch follows python-stdnum's vocabulary so callers that know
stdnum know these: InvalidFormat, InvalidLength, InvalidChecksum,
InvalidComponent, all ValidationError (and ValueError). Messages name the
field and the fault; they never carry key material.
"""


class TracecodeError(Exception):
    """Base of all tracecode errors."""


class ValidationError(TracecodeError, ValueError):
    """A code, or a value for one of its fields, is not valid.

    `field` names the scheme field (or None for a whole code) and `position`
    the 0-based offending character where one can be pointed at.
    """

    def __init__(self, message, *, field=None, position=None):
        super().__init__(message)
        self.field = field
        self.position = position


class InvalidFormat(ValidationError):
    """A character outside the allowed alphabet, or an unparseable value."""


class InvalidLength(ValidationError):
    """The code or field has the wrong number of characters."""


class InvalidChecksum(ValidationError):
    """The check character(s) do not match."""


class InvalidComponent(ValidationError):
    """A part of the code is well-formed but not acceptable (a bad date, a bad prefix)."""


class UnknownCheckSystem(TracecodeError, KeyError):
    """No check system has that name."""

    def __str__(self):  # KeyError would show the message quoted
        return str(self.args[0])


class DefinitionError(TracecodeError):
    """A scheme definition (TOML/JSON) is malformed or inconsistent."""


class DomainError(TracecodeError, ValueError):
    """An FF1 domain outside what NIST SP 800-38G or this implementation allows."""


class StepError(TracecodeError, ValueError):
    """A lifecycle step of a registered asset that cannot be recorded (special equipment,
    hazardous goods, livestock): ``reason`` for machines (refused, invalid...), ``field``
    the step field at fault."""

    def __init__(self, message, reason="invalid_step", field=None):
        super().__init__(message)
        self.reason, self.field = reason, field


class CapacityExceeded(TracecodeError):
    """Issuing would pass the guessing bound (EU 2016/161 Art. 4) of a key and tweak."""

    def __init__(self, message, *, remaining):
        super().__init__(message)
        self.remaining = remaining


class KeyStoreError(TracecodeError):
    """The data directory or its master key is missing, unreadable or unsafe."""


class RegistryError(TracecodeError):
    """A product registry (approvals, registrations, national code data) refuses an operation."""


class UnknownApproval(RegistryError, KeyError):
    """No approval or registration with that number is in the registry."""

    def __str__(self):  # KeyError would show the message quoted
        return str(self.args[0])


class ApprovalNotValid(RegistryError):
    """The approval is suspended, revoked or past its validity for what was asked (issuing codes)."""


class ImportRefused(RegistryError):
    """A strict import found rejected rows and wrote nothing; `report` lists them."""

    def __init__(self, message, *, report):
        super().__init__(message)
        self.report = report
