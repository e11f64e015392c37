"""Exit codes of the ``theorycheck`` command and the crash report of an unexpected error.

The codes (docs/checks.md, "Exit codes"):

====  ==============================================================================================================
0     every test holds
1     at least one test is violated (never used for a crash)
2     bad input: a spec, an argument, a path or a data file is wrong; nothing is run or written
3     no test is violated but not every test holds (inconclusive, assumptions failed), or no verdict was produced
5     internal error (a crash: a bug, out of memory, ...): one line of cause on stderr, the traceback in a file
130   interrupted (Ctrl-C); finished configurations are saved and reused by a re-run
====  ==============================================================================================================
"""
from __future__ import annotations

import os
import tempfile
import time
import traceback
from pathlib import Path

EXIT_HOLDS = 0
EXIT_VIOLATED = 1
EXIT_BAD_INPUT = 2
EXIT_NOT_ALL_HOLD = 3
EXIT_INTERNAL = 5
EXIT_INTERRUPTED = 130


def crash_dir() -> Path:
    """Folder for crash reports: ``$THEORYCHECK_CRASH_DIR`` when set, else the system's temporary folder."""
    return Path(os.environ.get("THEORYCHECK_CRASH_DIR") or tempfile.gettempdir())


def save_traceback(exc: BaseException, argv=None) -> Path | None:
    """Write the full traceback of ``exc`` (and the command line) to a new file ``theorycheck-crash-*.txt`` in
    :func:`crash_dir`; returns its path, or None when no file could be written there."""
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    head = f"theorycheck crash report, {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}\n" \
           f"command line: theorycheck {' '.join(map(str, argv)) if argv is not None else '?'}\n\n"
    try:
        d = crash_dir()
        d.mkdir(parents=True, exist_ok=True)
        fd, path = tempfile.mkstemp(prefix="theorycheck-crash-", suffix=".txt", dir=d)
        with os.fdopen(fd, "w") as f:
            f.write(head + text)
        return Path(path)
    except OSError:
        return None


def crash_message(exc: BaseException, path: Path | None) -> str:
    """One line: the cause (exception type and first line of its message) and where the traceback is."""
    msg = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    cause = f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__
    where = f"traceback saved to {path}" if path else "the traceback could not be saved"
    return f"theorycheck: internal error (exit {EXIT_INTERNAL}): {cause}; {where}; no verdicts were written"
