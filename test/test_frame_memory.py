"""Fixed malloc thresholds: freed frame-sized buffers stay in the process (media/frame_memory).

Each check runs in a fresh interpreter, whose allocator has no history of its own (other tests
run ``frame-restore`` in this process, which fixes its thresholds). A round allocates ten 4 MiB
buffers (a 1080p luma plane is 2 MiB, a BGR frame 6 MiB), writes one byte per page and frees
them, as a frame's arrays are; on the main thread, and on a worker thread as the node's cameras
do. glibc's ``mallopt`` accepts even unknown parameters: only the faults show the effect.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES_PER_ROUND = 10 * (4 << 20) // 4096

ROUNDS = """
import json, resource, sys, threading
{setup}
def one_round():
    buffers = [bytearray(4 << 20) for _ in range(10)]
    for buffer in buffers:
        buffer[::4096] = bytes(len(buffer) // 4096)
def rounds(out):
    one_round()  # the first round maps the pages in either way
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    for _ in range(5):
        one_round()
    out.append((resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before) / 5)
faults = []
rounds(faults)
worker = threading.Thread(target=rounds, args=(faults,))
worker.start()
worker.join()
print(json.dumps({{"set": {result}, "faults": faults[0], "worker_faults": faults[1]}}))
"""

SET = (
    "from frame_restore_ros.media.frame_memory import keep_frame_buffers_resident\n"
    "result = keep_frame_buffers_resident()"
)

needs_glibc = pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc",
    reason="malloc thresholds are glibc's: not this platform's C library",
)


def run_rounds(setup: str, result: str, **environment: str) -> dict:
    """Run the rounds in a fresh interpreter; return {"set": ..., "faults": per round}."""
    import json

    ignored = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES", "LD_PRELOAD")
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ignored and key != "FRAME_RESTORE_MALLOC"
    }
    env.update(environment)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    code = ROUNDS.format(setup=setup, result=result)
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@needs_glibc
def test_fixed_thresholds_keep_freed_frames_resident():
    """After the call, a round of frame-sized buffers faults (almost) no page in again."""
    kept = run_rounds(SET, "result")
    assert kept["set"] is True
    assert kept["faults"] < 0.01 * PAGES_PER_ROUND, kept
    assert kept["worker_faults"] < 0.01 * PAGES_PER_ROUND, kept


@needs_glibc
def test_glibc_defaults_fault_every_round_in_again():
    """Why the module exists: by default the heap's top is returned and faulted in each round."""
    enabled = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if enabled.exists() and "[always]" in enabled.read_text():
        pytest.skip("transparent huge pages always on: the heap faults in 2 MiB pages here")
    default = run_rounds("", "None")
    assert default["faults"] > 0.5 * PAGES_PER_ROUND, default


@needs_glibc
@pytest.mark.parametrize(
    "environment",
    [
        {"FRAME_RESTORE_MALLOC": "default"},
        {"FRAME_RESTORE_MALLOC": "off"},
        {"MALLOC_TRIM_THRESHOLD_": "1048576"},
        {"GLIBC_TUNABLES": "glibc.malloc.trim_threshold=1048576"},
    ],
)
def test_the_users_settings_are_kept(environment):
    """An opt-out, or glibc's thresholds set through the environment: nothing is changed."""
    kept = run_rounds(SET, "result", **environment)
    assert kept["set"] is False


@needs_glibc
@pytest.mark.parametrize(
    "environment",
    [{"FRAME_RESTORE_MALLOC": "fixed"}, {"GLIBC_TUNABLES": "glibc.cpu.hwcaps=-AVX512F"}],
)
def test_settings_that_are_no_malloc_thresholds_keep_the_fix(environment):
    """``fixed`` asks for the default; a glibc tunable of the CPU says nothing about malloc."""
    kept = run_rounds(SET, "result", **environment)
    assert kept["set"] is True and kept["faults"] < 0.01 * PAGES_PER_ROUND, kept


def test_a_c_library_without_mallopt_changes_nothing(monkeypatch):
    """No ``mallopt`` (another libc behind a glibc name): False, no exception."""
    from frame_restore_ros.media import frame_memory

    class NoMallopt:
        def __init__(self, name):
            pass

        def __getattr__(self, name):
            raise AttributeError(name)

    monkeypatch.setattr(frame_memory.platform, "system", lambda: "Linux")
    monkeypatch.setattr(frame_memory.platform, "libc_ver", lambda: ("glibc", "2.36"))
    monkeypatch.setattr(frame_memory.ctypes, "CDLL", NoMallopt)
    for name in ("FRAME_RESTORE_MALLOC", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    assert frame_memory.keep_frame_buffers_resident() is False


def test_frame_restore_sets_the_thresholds_before_its_command(monkeypatch, tmp_path):
    """The ``frame-restore`` entry point applies the thresholds once, before the command runs."""
    from frame_restore_ros.cli import main as cli_main

    calls = []
    monkeypatch.setattr(cli_main, "keep_frame_buffers_resident", lambda: calls.append(1) or True)
    missing = tmp_path / "missing.yaml"
    assert cli_main.main(["node-params", "--check", str(missing)]) == 2
    assert calls == [1]
