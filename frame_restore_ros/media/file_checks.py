"""Input files in error messages: a long value shown short, and why a path is no usable file.

A leaf module, so that every layer (the node's parameters, the checkpoint reader, the defect
mask loader, the engine cache) says the same thing the same way.
"""

from __future__ import annotations

import os
import stat

ECHO_LIMIT = 200  # characters of a value an error message shows (a whole usual path)

_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe"),
    (stat.S_ISSOCK, "a socket"),
)


def echo(value: object, quote: bool = True, limit: int = ECHO_LIMIT) -> str:
    """Show ``value`` in an error message: its repr (its text if not ``quote``), cut short.

    A value longer than ``limit`` characters shows its start and its length, so that a 10 MB
    string does not make a 10 MB message.
    """
    if isinstance(value, str):
        text = repr(value[:limit]) if quote else _escaped(value[:limit])
        return text if len(value) <= limit else f"{text}... ({len(value)} chars)"
    try:
        text = repr(value)
    except ValueError:  # an integer past Python's digit limit
        return f"<{type(value).__name__}>"
    if len(text) <= limit:
        return text
    size = f"{len(value)} items" if isinstance(value, list) else f"{len(text)} chars"
    return f"{text[:limit]}... ({size})"


def _escaped(text: str) -> str:
    """``text`` with each unprintable character (a NUL, a newline, an escape) as its escape.

    An unquoted value is still one line of plain text: a NUL or a terminal escape in a path is
    shown, never sent raw to a log or a terminal.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def shown_path(path: str | os.PathLike[str]) -> str:
    """Return ``path`` as an error message shows it: its text, cut short if long."""
    return echo(os.fspath(path), quote=False)


def file_kind(mode: int) -> str:
    """Name the kind of a file that is not a regular one ("a directory", "a named pipe", ...)."""
    return next((name for test, name in _FILE_KINDS if test(mode)), "of an unknown kind")


def file_problem(path: str | os.PathLike[str], what: str) -> str | None:
    """Return precisely why ``path`` is not a readable regular file, or None.

    Missing, a broken link, a directory or device, unreadable, a name the file system refuses:
    each is said as such, after ``what`` and the (shortened) path. Opens nothing but a regular
    file, so a pipe or device cannot block.
    """
    shown = f"{what} {shown_path(path)}"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        if os.path.lexists(path):
            return f"{shown} is a symbolic link to a missing file"
        return f"{shown} does not exist"
    except OSError as exc:
        return f"{shown} cannot be used: {exc.strerror or exc}"
    except ValueError:  # os.stat refuses a NUL character
        return f"{shown} cannot be used: its name contains a NUL character"
    if not stat.S_ISREG(mode):
        return _not_regular(shown, mode)
    try:
        with open(path, "rb"):
            pass
    except OSError as exc:
        return f"{shown} exists but cannot be read: {exc.strerror or exc}"
    return None


def irregular_file_problem(path: str | os.PathLike[str], what: str) -> str | None:
    """Return why ``path`` exists but is not a regular file (a pipe, a device, ...), or None.

    The check before reading a file whose other problems the reader names itself: None also
    where ``path`` cannot be looked up (missing, a refused name). Opens nothing, so a named pipe
    or a device cannot block; the text is :func:`file_problem`'s.
    """
    try:
        mode = os.stat(path).st_mode
    except (OSError, ValueError):  # ValueError: a NUL character
        return None
    return None if stat.S_ISREG(mode) else _not_regular(f"{what} {shown_path(path)}", mode)


def _not_regular(shown: str, mode: int) -> str:
    """Say that the file ``shown`` ("what path") of ``mode`` is not a regular file, and what."""
    return f"{shown} exists but is not a regular file (it is {file_kind(mode)})"
