"""The access line written straight by the handler is the line logging's own formatter writes."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import time

import pytest

from serving import logs


@pytest.fixture
def restore_logging():
    handlers, level, propagate = logs.root.handlers[:], logs.root.level, logs.root.propagate
    yield
    logs.root.handlers[:], logs.root.level, logs.root.propagate = handlers, level, propagate


def both_ways(fmt: str, label: str, path: str = "/invocations", level: int = logging.INFO) -> tuple[str, str]:
    """(the straight line, the line of a plain StreamHandler with the same formatter) for one request."""
    logs.configure(level, fmt, label)
    straight = logs.root.handlers[0]
    assert type(straight) is logs.Lines
    out = io.StringIO()
    straight.stream = out
    started = time.perf_counter()
    logs.access_log("POST", path, 200, started, "req-1", 164)
    plain = logging.StreamHandler(io.StringIO())
    plain.setFormatter(straight.formatter)  # the stdlib's Formatter (or our JSON one) on a real LogRecord
    logs.root.handlers[:] = [plain]
    logs.access_log("POST", path, 200, started, "req-1", 164)
    return out.getvalue(), plain.stream.getvalue()


@pytest.mark.parametrize("label", ["", "bench/featurizer"])
def test_a_text_line_is_the_formatters_line(restore_logging, label):
    straight, formatted = both_ways("text", label)
    prefix = re.escape(f"[{label}] ") if label else ""
    shape = prefix + (r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO \[%d\] serving\.access: "
                      r"POST /invocations 200 (\d+\.\d\d)ms id=req-1 bytes=164\n") % os.getpid()
    a, b = re.fullmatch(shape, straight), re.fullmatch(shape, formatted)
    assert a and b, (straight, formatted)
    # the same line but for the time and the latency, which moved on between the two
    assert re.sub(r"[\d:, -]{23} INFO", "T INFO", straight).replace(a[1], "L") == \
        re.sub(r"[\d:, -]{23} INFO", "T INFO", formatted).replace(b[1], "L")


@pytest.mark.parametrize("label", ["", "bench/featurizer"])
def test_a_json_line_has_the_formatters_fields_in_its_order(restore_logging, label):
    straight, formatted = both_ways("json", label)
    a, b = json.loads(straight), json.loads(formatted)
    assert list(a) == list(b)
    assert list(a)[:4] == ["time", "level", "logger", "message"]
    assert ("container" in a) == bool(label) and a.get("container") == b.get("container")
    for key in ("level", "logger", "method", "path", "status", "request_id", "bytes"):
        assert a[key] == b[key]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}", a["time"])
    assert time.strptime(a["time"][:19], "%Y-%m-%dT%H:%M:%S")


def test_ping_stays_below_info(restore_logging):
    straight, formatted = both_ways("text", "", path="/ping")
    assert straight == formatted == ""
    straight, formatted = both_ways("text", "", path="/ping", level=logging.DEBUG)
    assert " DEBUG " in straight and " DEBUG " in formatted


def test_a_handler_added_to_the_access_logger_gets_the_record(restore_logging):
    logs.configure(logging.INFO)
    out = io.StringIO()
    logs.root.handlers[0].stream = out
    records = []
    catcher = logging.Handler()
    catcher.emit = records.append
    logs.access.addHandler(catcher)
    try:
        logs.access_log("POST", "/invocations", 200, time.perf_counter(), "req-2", 3)
    finally:
        logs.access.removeHandler(catcher)
    [record] = records
    assert record.getMessage().startswith("POST /invocations 200 ") and record.fields["request_id"] == "req-2"
    assert out.getvalue().count("\n") == 1 and "id=req-2 bytes=3" in out.getvalue()  # and the line once, not twice
