"""The one exception type a user sees.

Anything raised as `UsageError` is a problem with the user's input or environment (a bad flag, a missing
file, a full disk). The CLI prints its message on one line and exits with status 2, no traceback. Every
other exception is a bug in this package and keeps its traceback.
"""


class UsageError(Exception):
    """Bad input that the user can fix; the message names the problem and, when there is one, the fix."""
