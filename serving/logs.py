"""Logging: one line per request, ``/ping`` only at DEBUG, text or JSON lines.

The level comes from ``SAGEMAKER_CONTAINER_LOG_LEVEL`` (``20`` or ``INFO``); JSON lines are
chosen with ``SERVING_LOG_FORMAT=json``, for log stores that index fields. A pipeline
endpoint sets ``SERVING_LOG_LABEL=endpoint/container``: text lines then start with
``[endpoint/container]`` and JSON lines carry a ``container`` field, so the container writes
its lines straight to the endpoint's output, already labelled.
"""

from __future__ import annotations

import json
import logging
import sys
import time

access = logging.getLogger("serving.access")


class JsonFormatter(logging.Formatter):
    def __init__(self, label: str = ""):
        super().__init__()
        self.label = label

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S") + f".{int(record.msecs):03d}",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if self.label:
            entry["container"] = self.label
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def configure(level: int, fmt: str = "text", label: str = "") -> None:
    handler = logging.StreamHandler(sys.stdout)
    if fmt == "json":
        handler.setFormatter(JsonFormatter(label))
    else:
        prefix = f"[{label}] " if label else ""
        handler.setFormatter(logging.Formatter(prefix + "%(asctime)s %(levelname)s [%(process)d] %(name)s: %(message)s"))
    root = logging.getLogger("serving")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def access_log(method: str, path: str, status: int, started: float, request_id: str, size: int) -> None:
    level = logging.DEBUG if path == "/ping" else logging.INFO
    if not access.isEnabledFor(level):
        return
    ms = (time.perf_counter() - started) * 1000
    access.log(
        level,
        "%s %s %d %.2fms id=%s bytes=%d",
        method, path, status, ms, request_id, size,
        extra={"fields": {"method": method, "path": path, "status": status,
                          "latency_ms": round(ms, 3), "request_id": request_id, "bytes": size}},
    )
