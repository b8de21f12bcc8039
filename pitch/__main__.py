"""``python -m pitch``: see :mod:`pitch.cli`."""

import os
import sys

from .cli import main

if __name__ == "__main__":
    code = main()
    try:
        sys.stdout.flush()
    except BrokenPipeError:  # the reader (e.g. `head`) left: no traceback at exit
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        code = code or 1
    sys.exit(code)
