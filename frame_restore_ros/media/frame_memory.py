"""Keep freed frame-sized buffers in the process instead of handing them back to the kernel.

Every frame allocates and frees a few dozen frame-sized arrays (luma, Laplacian, differences,
colour halvings, decoded and repaired frames: 2-6 MB each at 1920x1080). glibc's malloc serves
a block above its mmap threshold (128 KiB at start, raised by itself up to the largest block
freed, at most 32 MiB) with a fresh ``mmap`` and returns the heap's top to the kernel once more
than twice that lies free there, so the pages of the next frame's arrays are faulted in again.
Measured on this project's 2-core VM, a fresh process running one ``FailureDetector`` over 50
frames of driving_tunnel at 1920x1080: about 2100 minor page faults per frame and 22.7 ms of
CPU a ``detect`` by default; 0 faults and 16.2-17.3 ms with fixed thresholds (mmap above 8, 16
or 32 MiB, trim above 64-256 MiB alike), the resident set 10 MB larger. At 1280x720 the arrays
stay under the threshold glibc reaches by itself (13 faults a frame): no change there. How much
a process gains depends on what it freed before (glibc's own threshold only rises):
``docs/benchmarks.md``, "Page faults at 1920x1080", has the node's and the benchmarks' figures.

Fixed thresholds end glibc's dynamic adjustment, so the behaviour no longer depends on the
process's history. ROS 2's real-time guidance does the same before a node's loop (``mallopt``
so that the loop does not page-fault). The thresholds are process-wide: the worker threads'
arenas follow them too. The entry points call :func:`keep_frame_buffers_resident` once
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

#: Environment variables through which a user sets glibc's malloc thresholds himself; either
#: set, or ``GLIBC_TUNABLES`` naming a ``glibc.malloc.`` tunable, the process keeps his settings.
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
USER_TUNABLES = "GLIBC_TUNABLES"
#: ``FRAME_RESTORE_MALLOC`` set to anything but ``fixed`` (e.g. ``default``) keeps glibc's own
#: thresholds (to measure the difference, or where the allocator is someone else's concern).
OPT_OUT = "FRAME_RESTORE_MALLOC"


def keep_frame_buffers_resident() -> bool:
    """Fix glibc malloc's mmap and trim thresholds for this process; True when set.

    False, changing nothing, where the C library is not glibc (musl, macOS, Windows) or has no
    ``mallopt``, where the user set malloc's thresholds through the environment
    (:data:`USER_SETTINGS`, a ``glibc.malloc.`` tunable), or where ``FRAME_RESTORE_MALLOC`` asks
    for glibc's own (any value but ``fixed``). Never raises: the thresholds are a speed-up only.
    glibc's ``mallopt`` accepts even unknown parameters, so True says the call was made, not
    that it took effect (``test/test_frame_memory.py`` counts the page faults).
    """
    wish = os.environ.get(OPT_OUT, "").strip().lower()
    if wish and wish != "fixed":
        log.debug("malloc thresholds left as glibc's own (%s=%s)", OPT_OUT, wish)
        return False
    chosen = [name for name in USER_SETTINGS if os.environ.get(name)]
    if "glibc.malloc." in os.environ.get(USER_TUNABLES, ""):
        chosen.append(USER_TUNABLES)
    if chosen:
        log.debug("malloc thresholds left as set by %s", ", ".join(chosen))
        return False
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        log.debug("malloc thresholds unchanged: the C library is not glibc")
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError) as exc:
        log.debug("malloc thresholds unchanged: no mallopt (%s)", exc)
        return False
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
