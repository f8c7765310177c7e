"""The per-epoch table of ``verbose=1``: coloured on a terminal, plain text elsewhere."""

import re
import sys

from skorch.callbacks import PrintLog

_ANSI = re.compile(r"\x1b\[[0-9;]*m")


class PlainPrintLog(PrintLog):
    """skorch's ``PrintLog`` without ANSI colour codes (for log files and pipes).

    Examples
    --------
    >>> from skdfl.estimators._printlog import PlainPrintLog
    >>> PlainPrintLog().format_row({"loss": 0.5, "loss_best": True}, "loss", "\\x1b[36m")
    '0.5000'
    """

    def format_row(self, row, key, color):
        value = super().format_row(row, key, color)
        return _ANSI.sub("", value) if isinstance(value, str) else value


def print_log(stream=None):
    """The epoch table callback: colours only when ``stream`` (stdout) is a terminal.

    Examples
    --------
    >>> import io
    >>> from skdfl.estimators._printlog import print_log
    >>> type(print_log(io.StringIO())).__name__
    'PlainPrintLog'
    """
    stream = sys.stdout if stream is None else stream
    isatty = getattr(stream, "isatty", None)
    return PrintLog() if isatty is not None and isatty() else PlainPrintLog()
