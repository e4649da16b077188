"""Rate-limited warnings: one line per key per period, the rest counted and reported."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter


class ThrottledLog:
    """Log ``warning(key, text)`` at most once per ``period_s`` per key."""

    def __init__(self, logger: logging.Logger, period_s: float) -> None:
        self.logger = logger
        self.period_s = period_s
        self._last: dict[str, float] = {}
        self._suppressed: Counter = Counter()
        self._lock = threading.Lock()

    def warning(self, key: str, text: str, now: float | None = None) -> bool:
        """Log ``text`` unless ``key`` was logged within the period; return whether it was."""
        now = time.monotonic() if now is None else now
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.period_s:
                self._suppressed[key] += 1
                return False
            suppressed, self._suppressed[key] = self._suppressed[key], 0
            self._last[key] = now
        if suppressed:
            text += f" ({suppressed} more like this in the last {now - last:.1f} s)"
        self.logger.warning("%s", text)
        return True
