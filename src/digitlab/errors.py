"""The one exception type digitlab raises for problems a user can fix."""


class DigitlabError(Exception):
    """A user-facing error: its message is one sentence saying what is wrong and what to do.

    The CLI prints it as a single line and exits non-zero; the server turns it into a 4xx.
    """


class NoDigitFound(DigitlabError):
    """The picture holds no ink that could be a digit (blank, too faint, or read the wrong way
    round): a caller may try the other polarity before giving up."""


def reason(exc: BaseException) -> str:
    """An exception as a short single line for an error message."""
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__
