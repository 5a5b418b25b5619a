"""The consoles commands print to: terminal width on a terminal, a fixed wide width otherwise.

Rich falls back to 80 columns when output is not a terminal (pipes, CI logs), which cuts trope ids in tables
and hard-wraps error messages mid-line; a wider fixed width keeps both whole and greppable.
"""

from __future__ import annotations

import sys

from rich.console import Console

PIPE_WIDTH = 160


def make_console(*, stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else PIPE_WIDTH)
