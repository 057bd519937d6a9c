"""JSON log lines on stdout, one object per line.

Callers pass ids (request, key, account), never keys, text or birth data.
"""

import json
import logging
import sys
import time

_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None)))


class JsonFormatter(logging.Formatter):
    """Formats a record as one JSON object; extra= fields become top-level keys."""

    def __init__(self, service: str):
        super().__init__()
        self.service = service

    def format(self, record: logging.LogRecord) -> str:
        line = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "service": self.service,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _STANDARD_ATTRIBUTES and not name.startswith("_"):
                line[name] = value
        if record.exc_info:
            line["error"] = self.formatException(record.exc_info).splitlines()[-1]
        return json.dumps(line, separators=(",", ":"), default=str)


def setup(service: str, level: str = "INFO") -> logging.Logger:
    """Sends every log record of the process to stdout as JSON and returns the service's logger."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    return logging.getLogger(service)


class RepeatLimiter:
    """Decides which of many repeated warnings to log: at most one per subject per interval.

    A subject is whatever the repeats share, such as a Redis node. Callers
    log the warning only when allow() returns a count, and add that count
    (the repeats skipped since the last logged line) to the line.
    """

    def __init__(self, interval_seconds: float, max_subjects: int = 1024):
        self.interval_seconds = interval_seconds
        self.max_subjects = max_subjects
        self._logged_at: dict[str, float] = {}
        self._skipped: dict[str, int] = {}

    def allow(self, subject: str = "") -> int | None:
        """Return the number of repeats skipped since the last logged one, or None when this one must be skipped."""
        now = time.monotonic()
        last = self._logged_at.get(subject)
        if last is not None and now - last < self.interval_seconds:
            self._skipped[subject] = self._skipped.get(subject, 0) + 1
            return None
        if last is None and len(self._logged_at) >= self.max_subjects:
            # Subjects come from a bounded set (nodes, reasons); this only guards memory.
            self._logged_at.clear()
            self._skipped.clear()
        self._logged_at[subject] = now
        return self._skipped.pop(subject, 0)
