"""Rate-limited warnings: one line per key per period, the rest counted and reported."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter


class ThrottledLog:
    """Log ``warning(key, text)`` (or :meth:`log`) at most once per ``period_s`` per key."""

    def __init__(self, logger: logging.Logger, period_s: float) -> None:
        self.logger = logger
        self.period_s = period_s
        self._last: dict[str, float] = {}
        self._suppressed: Counter = Counter()
        self._lock = threading.Lock()

    def warning(self, key: str, text: str, now: float | None = None) -> bool:
        """Log ``text`` unless ``key`` was logged within the period; return whether it was."""
        return self.log(logging.WARNING, key, text, now)

    def log(
        self,
        level: int,
        key: str,
        text: str,
        now: float | None = None,
        exc_info: BaseException | None = None,
    ) -> bool:
        """As :meth:`warning`, at ``level``; ``exc_info``: an exception whose traceback follows."""
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
        self.logger.log(level, "%s", text, exc_info=exc_info)
        return True
