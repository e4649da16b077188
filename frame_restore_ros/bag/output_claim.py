"""Where a command may write: overwrite rules, an exclusive claim, stale partials, atomic rename.

Every output folder (a bag, a report) is built as ``.NAME.partial-PID`` beside its final name and
renamed into place when complete. This module decides whether the final name may be used at all:

* an output never equals, contains or lies inside an input, nor another output of the same run;
* an existing output is replaced only with ``overwrite`` and only if it is what this tool writes:
  a ROS 2 bag marked as written by it (:data:`BAG_MARK` in ``custom_data`` of ``metadata.yaml``;
  ``metadata.yaml`` and the storage files it lists, nothing else) or a report (the marker file
  :data:`REPORT_MARKER` and report files only);
* :class:`OutputClaim` takes an exclusive ``flock`` on ``.NAME.lock`` for the whole run, so a
  second run to the same output fails at once (the kernel drops the lock when a process dies,
  even on SIGKILL); under the claim, partial folders of dead processes are removed and logged.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from ruamel.yaml import YAML

log = logging.getLogger(__name__)
REPORT_MARKER = ".frame-restore-report"
BAG_MARK = ("frame_restore_ros.writer", "frame-restore")  # custom_data key, value of our bags
REPORT_SUFFIXES = (".png", ".json", ".html")


class OutputError(ValueError):
    """An output path that must not or cannot be written; the text names the path."""


def partial_path(path: Path, pid: int | None = None) -> Path:
    """Return ``.NAME.partial-PID`` beside ``path`` (the folder a run builds its output in)."""
    return path.parent / f".{path.name}.partial-{os.getpid() if pid is None else pid}"


def io_reason(exc: BaseException) -> str:
    """Return the reason of an I/O error without the (partial, hidden) path it names."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return f"{type(exc).__name__}: {exc}"


def check_not_input(output: Path, inputs: tuple[Path, ...], what: str = "output") -> None:
    """Raise OutputError if ``output`` equals, contains or lies inside one of ``inputs``."""
    out = Path(output).resolve()
    for source in inputs:
        src = Path(source).resolve()
        if out == src:
            raise OutputError(f"{what} {output} is the input {source}; choose another path")
        if out in src.parents:
            raise OutputError(f"{what} {output} contains the input {source}; choose another path")
        if src in out.parents:
            raise OutputError(f"{what} {output} lies inside the input {source}")


def check_separate(path: Path, what: str, other: Path, other_what: str) -> None:
    """Raise OutputError if two outputs of one run, ``what`` and ``other_what``, overlap.

    Overlap: the same path, or one inside the other (resolved, so also through a symlink).
    """
    one, two = Path(path).resolve(), Path(other).resolve()
    if one == two:
        raise OutputError(f"{what} {path} is also {other_what} {other}; choose another path")
    if two in one.parents:
        raise OutputError(f"{what} {path} lies inside {other_what} {other}; choose a path outside")
    if one in two.parents:
        raise OutputError(f"{what} {path} holds {other_what} {other}; choose separate paths")


def check_output_file(
    path: Path,
    what: str,
    inputs: tuple[Path, ...] = (),
    outputs: tuple[tuple[str, Path], ...] = (),
    overwrite: bool = False,
) -> None:
    """Raise OutputError unless file ``path`` (option ``what``) may be written (before the work).

    Refused: an input, a path inside or holding one (:func:`check_not_input`); the same path as,
    inside or holding another output of the run (``outputs``: (option, path) pairs); a folder;
    an existing file without ``overwrite``; a place that cannot be created
    (:func:`check_creatable`).
    """
    path = Path(path)
    check_not_input(path, inputs, what)
    for other_what, other in outputs:
        check_separate(path, what, other, other_what)
    if path.is_dir():
        raise OutputError(f"cannot write {what} {path}: it is a folder")
    if (path.exists() or path.is_symlink()) and not overwrite:
        raise OutputError(f"{what} {path} exists; remove it or pass --overwrite")
    check_creatable(path, what)


def check_output_folder(
    path: Path,
    what: str,
    inputs: tuple[Path, ...],
    overwrite: bool,
    why_not_own: Callable[[Path], str | None],
    own: str,
) -> None:
    """Raise OutputError unless the folder ``path`` (option ``what``) may take a run's files.

    The rules of ``evaluate -o``, checked before any work: never an input, inside one or holding
    one; a folder that exists must be empty, or, with ``overwrite``, ``own``: an earlier output
    of the command (``why_not_own`` says why a folder is not one, None: it is); a place that
    cannot be created is refused (:func:`check_creatable`).
    """
    path = Path(path)
    check_not_input(path, inputs, what)
    if path.exists() or path.is_symlink():
        if not path.is_dir():
            raise OutputError(f"{what} {path} exists and is not a folder; remove it")
        if any(path.iterdir()):
            if not overwrite:
                raise OutputError(
                    f"{what} {path} exists and is not empty; remove it or pass --overwrite"
                )
            reason = why_not_own(path)
            if reason:
                raise OutputError(f"--overwrite replaces only {own}; {path} is not one: {reason}")
    check_creatable(path, what)


def bag_information(folder: Path) -> dict | None:
    """Return ``rosbag2_bagfile_information`` of the bag ``folder``, or None if it is no bag."""
    try:
        info = YAML(typ="safe").load((folder / "metadata.yaml").read_text())
        info = info["rosbag2_bagfile_information"]
        list(info["relative_file_paths"])
    except Exception:  # missing, binary, malformed or not a rosbag2 metadata file
        return None
    return info if isinstance(info, dict) else None


def bag_files(folder: Path) -> set[str] | None:
    """Return the files a ROS 2 bag folder consists of, or None if ``folder`` is not a bag."""
    info = bag_information(folder)
    if info is None:
        return None
    return {"metadata.yaml", *(str(name) for name in info["relative_file_paths"])}


def written_here(info: dict) -> bool:
    """Whether bag metadata ``info`` carries :data:`BAG_MARK`, or is an unmarked replay output.

    Replay outputs written before the mark are recognised by rosbags' ``ros_distro`` and a
    ``T/restored`` plus ``T/failure_mask`` pair for an input topic ``T``; older make-bag outputs
    look like any bag rosbags wrote and are not recognised.
    """
    key, value = BAG_MARK
    custom = info.get("custom_data") or {}
    if isinstance(custom, dict) and custom.get(key) == value:
        return True
    try:
        topics = {t["topic_metadata"]["name"] for t in info["topics_with_message_count"]}
    except (KeyError, TypeError):
        return False
    return info.get("ros_distro") == "rosbags" and any(
        f"{t}/restored" in topics and f"{t}/failure_mask" in topics for t in topics
    )


def is_report(folder: Path) -> bool:
    """Whether ``folder`` is a report this tool wrote: report files only, and its marker.

    Reports written before the marker existed are recognised by summary.json and index.html.
    """
    names = {child.name for child in folder.iterdir()}
    if REPORT_MARKER not in names and not {"summary.json", "index.html"} <= names:
        return False
    return all(
        child.is_file() and (child.name == REPORT_MARKER or child.suffix in REPORT_SUFFIXES)
        for child in folder.iterdir()
    )


def why_not_replaceable(path: Path, kind: str) -> str | None:
    """Why ``--overwrite`` must not replace ``path`` (``kind``: "bag" or "report"), or None."""
    if kind == "report":
        return None if is_report(path) else "it is not a report written by frame-restore"
    files = bag_files(path)
    if files is None:
        return "it is not a ROS 2 bag (no readable metadata.yaml)"
    extra = sorted(c.name for c in path.iterdir() if c.name not in files or not c.is_file())
    if extra:
        return "it holds files that are not part of the bag: " + ", ".join(extra[:5])
    info = bag_information(path) or {}
    if not written_here(info):
        return (
            f"it is a ROS 2 bag frame-restore did not write (ros_distro: "
            f"{info.get('ros_distro') or 'not set'}; no {BAG_MARK[0]} in the custom_data of its "
            "metadata.yaml); remove it yourself if it is to go"
        )
    return None


def check_output(
    path: Path, inputs: tuple[Path, ...] = (), overwrite: bool = False, kind: str = "bag"
) -> None:
    """Raise OutputError unless ``path`` may be written as a ``kind`` folder (before any work)."""
    path = Path(path)
    what = "output" if kind == "bag" else "report"
    check_not_input(path, inputs, what)
    if path.is_symlink() or path.exists():
        if not path.is_dir() or path.is_symlink():
            raise OutputError(f"{what} {path} exists and is not a {kind} folder; remove it")
        if not overwrite:
            raise OutputError(f"{what} {path} exists; remove it or pass --overwrite")
        reason = why_not_replaceable(path, kind)
        if reason:
            raise OutputError(
                f"--overwrite replaces only a {kind} this tool wrote; {path} is not one: {reason}"
            )
    check_creatable(path, what)


def check_creatable(path: Path, what: str = "output") -> None:
    """Raise OutputError unless ``path`` can be created (before any work).

    Its nearest existing ancestor must be a writable folder, not a regular file; ``what`` names
    the output in the message.
    """
    parent = Path(path).parent
    while not parent.exists():  # ends at "." or "/"
        parent = parent.parent
    if not parent.is_dir():
        raise OutputError(f"cannot write {what} {path}: {parent} is a file")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise OutputError(f"cannot write {what} {path}: {parent} is not writable")


class OutputClaim:
    """An exclusive claim on an output path for this process (re-entrant within it).

    Use as a context manager; raises OutputError naming the output if another live process
    holds it. The lock file ``.NAME.lock`` is removed on release.
    """

    _held: dict[Path, list] = {}  # resolved path -> [fd, depth]

    def __init__(self, path: Path, what: str = "output") -> None:
        self.path = Path(path)
        self.what = what
        self.lock = self.path.parent / f".{self.path.name}.lock"
        self._key = self.path.resolve()

    def __enter__(self) -> OutputClaim:
        held = self._held.get(self._key)
        if held is not None:
            held[1] += 1
            return self
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = self._lock()
        except OSError as exc:
            raise OutputError(f"cannot write {self.what} {self.path}: {io_reason(exc)}") from exc
        self._held[self._key] = [fd, 1]
        remove_stale_partials(self.path)
        return self

    def _lock(self) -> int:
        while True:
            fd = os.open(self.lock, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                owner = os.read(fd, 32).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise OutputError(
                    f"{self.what} {self.path} is being written by another run (pid {owner}); "
                    "wait for it or choose another path"
                ) from None
            try:
                same = os.fstat(fd).st_ino == os.stat(self.lock).st_ino
            except FileNotFoundError:
                same = False  # released and removed by its holder between open and flock
            if same:
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                return fd
            os.close(fd)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        held = self._held[self._key]
        held[1] -= 1
        if held[1]:
            return
        del self._held[self._key]
        try:
            self.lock.unlink()
        except OSError:
            pass  # a read-only folder keeps the empty lock file; it is only a lock
        os.close(held[0])


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _size_mb(path: Path) -> float:
    files = (p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    return sum(p.stat().st_size for p in files) / 1e6


def remove_stale_partials(path: Path) -> list[Path]:
    """Remove partial folders of ``path`` left by dead processes (call under the claim)."""
    removed = []
    for stale in sorted(path.parent.glob(f".{path.name}.partial-*")) + sorted(
        path.parent.glob(f".{path.name}.old-*")
    ):
        pid_text = stale.name.rsplit("-", 1)[-1]
        pid = int(pid_text) if pid_text.isdigit() else None
        if pid is not None and pid != os.getpid() and _pid_alive(pid):
            log.warning("left %s in place: process %d is still running", stale, pid)
            continue
        size = _size_mb(stale)
        shutil.rmtree(stale, ignore_errors=True)
        log.warning("removed %s (%.1f MB) left by an interrupted run (pid %s)", stale, size, pid)
        removed.append(stale)
    return removed


def publish(partial: Path, path: Path, replace: bool, what: str = "output") -> None:
    """Rename the finished folder ``partial`` to ``path``; with ``replace``, swap out the old one.

    The old folder is renamed aside first and deleted only after the new one is in place, so
    ``path`` always holds a complete folder.
    """
    old = None
    if path.exists() or path.is_symlink():
        if not replace:
            raise OutputError(f"{what} {path} appeared while this run wrote it; nothing replaced")
        old = path.parent / f".{path.name}.old-{os.getpid()}"
        path.rename(old)
    try:
        partial.rename(path)
    except OSError as exc:
        if old is not None:
            old.rename(path)
        if exc.errno in (errno.ENOTEMPTY, errno.EEXIST):
            raise OutputError(f"{what} {path} appeared while this run wrote it") from exc
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
