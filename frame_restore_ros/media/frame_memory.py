"""Keep freed frame-sized buffers in the process instead of handing them back to the kernel.

Every frame allocates and frees a few dozen frame-sized arrays (luma, Laplacian, differences,
colour halvings, decoded and repaired frames: 2-6 MB each at 1920x1080). glibc's malloc serves
a block above its mmap threshold (128 KiB at start, raised up to the largest block freed, at
most 32 MiB) with a fresh ``mmap`` and returns the heap's top to the kernel once more than twice
that lies free there, so the pages of the next frame's arrays are faulted in again. Measured on
this project's 2-core VM, 50 frames of driving_tunnel at 1920x1080 through one
``FailureDetector``: about 2100 minor page faults per frame and 22.7 ms of CPU a ``detect`` by
default; 0 faults and 16.2-17.3 ms with fixed thresholds (mmap above 8, 16 or 32 MiB, trim
above 64-256 MiB alike), the resident set 10 MB larger. At 1280x720 the arrays stay under the
threshold glibc reaches by itself (13 faults a frame): no change there. ``frame-restore bench
detection`` reports the faults per frame; ``FRAME_RESTORE_MALLOC=default`` before it measures
glibc's own behaviour (docs/benchmarks.md, "Page faults at 1920x1080").

Fixed thresholds also end glibc's dynamic adjustment, so the behaviour no longer depends on
what the process freed before (the same ``detect`` measured 15-18 ms or 23 ms in two
processes). ROS 2's real-time guidance does the same before a node's loop (``mallopt`` so that
the loop does not page-fault). The entry points call :func:`keep_frame_buffers_resident` once
(``frame-restore`` and the node); the library itself never changes the process's allocator.
"""

from __future__ import annotations

import ctypes
import logging
import os
import platform

log = logging.getLogger(__name__)

# mallopt parameters (glibc malloc.h).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: Blocks up to this size come from the heap and are reused (a 1080p BGR frame is 6 MB; an
#: 8K one 100 MB, still mapped and unmapped each time, as before).
MMAP_THRESHOLD_BYTES = 32 << 20
#: Free memory at the heap's top kept for the next frame instead of being returned.
TRIM_THRESHOLD_BYTES = 64 << 20

#: Environment variables through which a user sets glibc's malloc thresholds himself; any of
#: them set, the process keeps the user's settings.
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")
#: ``FRAME_RESTORE_MALLOC=default`` keeps glibc's own thresholds (to measure the difference).
OPT_OUT = "FRAME_RESTORE_MALLOC"


def keep_frame_buffers_resident() -> bool:
    """Fix glibc malloc's mmap and trim thresholds for this process; True when set.

    False, changing nothing, where the C library is not glibc (musl, macOS, Windows) or the
    user set the thresholds through the environment (:data:`USER_SETTINGS`), or
    ``FRAME_RESTORE_MALLOC=default`` asks for glibc's own.
    """
    if os.environ.get(OPT_OUT, "").strip().lower() == "default":
        log.debug("malloc thresholds left as glibc's own (%s=default)", OPT_OUT)
        return False
    chosen = [name for name in USER_SETTINGS if os.environ.get(name)]
    if chosen:
        log.debug("malloc thresholds left as set by %s", ", ".join(chosen))
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        log.debug("malloc thresholds unchanged: the C library is not glibc")
        return False
    libc = ctypes.CDLL(None)
    mallopt = libc.mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    done = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES) == 1
    done = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD_BYTES) == 1 and done
    log.debug(
        "malloc thresholds: mmap above %d MiB, trim above %d MiB (%s)",
        MMAP_THRESHOLD_BYTES >> 20,
        TRIM_THRESHOLD_BYTES >> 20,
        "set" if done else "refused",
    )
    return done
