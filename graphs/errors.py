"""Named errors whose messages tell the user what to do.

Doors print `str(error)` as one line and exit 2 (bad input) or 1 (failure);
the traceback is shown only with --verbose.
"""


class CloudDoctorError(Exception):
    """Base class: the message is written for the operator, not the developer."""

    exit_code = 1


class UserInputError(CloudDoctorError):
    """The input (file, flag, payload) is wrong; the user can fix it."""

    exit_code = 2


class ConfigError(CloudDoctorError):
    """A configuration file is missing or invalid."""

    exit_code = 2


class ProviderError(CloudDoctorError):
    """An LLM provider failed (network, auth, quota, bad answer)."""


class NotFoundError(UserInputError):
    """A thread, incident or file that was named does not exist."""
