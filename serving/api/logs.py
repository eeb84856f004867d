"""The containers' log lines as CloudWatch Logs serves them, for the SDK's log tailing.

The SageMaker SDK's ``Transformer.transform()`` tails the job's logs by default
(``logs=True``): it calls CloudWatch Logs' ``DescribeLogStreams`` and ``GetLogEvents`` on
``/aws/sagemaker/TransformJobs``, through the same ``AWS_ENDPOINT_URL``. ``serving api``
answers those two operations (AWS JSON 1.1, ``X-Amz-Target: Logs_20140328.<Operation>``) from
the lines its containers write, so the SDK prints them as it does on SageMaker:

- ``/aws/sagemaker/TransformJobs``, stream ``<job>/instance-1``;
- ``/aws/sagemaker/Endpoints/<endpoint>``, stream ``<variant>/instance-<n>``.

Every line a container writes reaches the ``serving.endpoint`` logger prefixed
``[<label>/<container>]`` (the backends' log pumps); a handler on that logger files the
lines of the labels registered here. The lines are kept in memory, the last
:data:`KEEP` per stream: they are for watching a job, not an archive, and a restarted
service starts with none.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque

from . import shapes
from .shapes import ApiError

SERVICE = "logs"
TARGET_PREFIX = "Logs_20140328."
KEEP = 10_000
PAGE = 10_000  # GetLogEvents' largest page
LINE = re.compile(r"^\[([^/\]]+)/([^\]]+)\] (.*)$", re.S)


class Stream:
    def __init__(self, name: str):
        self.name = name
        self.created = _now()
        self.events: deque[dict] = deque(maxlen=KEEP)
        self.dropped = 0  # events pushed out of the front: token indexes stay valid


class LogBook(logging.Handler):
    """Log groups and streams fed from the containers' lines; the two Logs operations the SDK calls."""

    reads_container_lines = True  # the process backend then pipes every container line through logging

    def __init__(self, logger: str = "serving.endpoint"):
        super().__init__(logging.INFO)
        self.groups: dict[str, dict[str, Stream]] = {}
        self.labels: dict[str, tuple[str, str]] = {}
        self.guard = threading.Lock()
        self.logger = logging.getLogger(logger)
        self.logger.addHandler(self)
        self.saved_level = self.logger.level  # the lines are INFO records; put back at close()
        if self.logger.getEffectiveLevel() > logging.INFO:
            self.logger.setLevel(logging.INFO)

    def close(self) -> None:
        self.logger.removeHandler(self)
        self.logger.setLevel(self.saved_level)
        super().close()

    def watch(self, label: str, group: str, stream: str) -> None:
        """File the lines of the containers labelled ``label`` under ``group``/``stream``."""
        with self.guard:
            self.labels[label] = (group, stream)
            self.groups.setdefault(group, {}).setdefault(stream, Stream(stream))

    def emit(self, record: logging.LogRecord) -> None:
        try:
            match = LINE.match(record.getMessage())
        except Exception:  # noqa: BLE001 - a record that cannot be formatted is not ours to file
            return
        if match is None:
            return
        label, container, text = match.groups()
        with self.guard:
            where = self.labels.get(label)
            if where is None:
                return
            stream = self.groups[where[0]][where[1]]
            if len(stream.events) == KEEP:
                stream.dropped += 1
            now = _now()
            stream.events.append({"timestamp": int(record.created * 1000), "message": f"{container}: {text}",
                                  "ingestionTime": now})

    # -- the operations ----------------------------------------------------------------------

    def call(self, operation: str, params: dict) -> dict:
        if operation not in ("DescribeLogStreams", "GetLogEvents"):
            raise ApiError("UnknownOperationException",
                            f"Logs.{operation} is not implemented by serving api (DescribeLogStreams and "
                            "GetLogEvents are: what the SageMaker SDK calls to show a job's logs)")
        try:
            shapes.validate(operation, params, SERVICE)
        except shapes.ApiError as exc:  # CloudWatch Logs names a bad parameter its own way
            raise ApiError("InvalidParameterException" if exc.code == "ValidationException" else exc.code,
                            exc.message) from None
        return getattr(self, operation)(params)

    def group(self, name: str) -> dict[str, Stream]:
        group = self.groups.get(name)
        if group is None:
            raise ApiError("ResourceNotFoundException", "The specified log group does not exist.")
        return group

    def DescribeLogStreams(self, p: dict) -> dict:
        with self.guard:
            streams = [s for n, s in sorted(self.group(p["logGroupName"]).items())
                       if n.startswith(p.get("logStreamNamePrefix", ""))]
            if p.get("orderBy") == "LastEventTime":
                streams.sort(key=lambda s: s.events[-1]["timestamp"] if s.events else 0)
            if p.get("descending"):
                streams.reverse()
            start = int(p.get("nextToken") or 0)
            size = p.get("limit", 50)
            out = {"logStreams": [self.describe(p["logGroupName"], s) for s in streams[start:start + size]]}
        if start + size < len(streams):
            out["nextToken"] = str(start + size)
        return out

    def describe(self, group: str, stream: Stream) -> dict:
        out = {"logStreamName": stream.name, "creationTime": stream.created,
               "arn": f"arn:aws:logs:local:000000000000:log-group:{group}:log-stream:{stream.name}", "storedBytes": 0}
        if stream.events:
            out.update(firstEventTimestamp=stream.events[0]["timestamp"],
                       lastEventTimestamp=stream.events[-1]["timestamp"],
                       lastIngestionTime=stream.events[-1]["ingestionTime"])
        return out

    def GetLogEvents(self, p: dict) -> dict:
        """Events in order from ``nextToken`` (``f/<n>``: the n-th event the stream ever had), within
        ``startTime``..``endTime``; the forward token is where the next call starts."""
        with self.guard:
            stream = self.group(p["logGroupName"]).get(p["logStreamName"])
            if stream is None:
                raise ApiError("ResourceNotFoundException", "The specified log stream does not exist.")
            token = p.get("nextToken")
            if token is not None and not re.fullmatch(r"[fb]/\d+", token):
                raise ApiError("InvalidParameterException", f"nextToken {token!r} is not one this service gave out")
            first = stream.dropped
            end = first + len(stream.events)
            position = int(token[2:]) if token else (first if p.get("startFromHead") else end)
            position = min(max(position, first), end)
            size = min(p.get("limit", PAGE), PAGE)
            picked, index = [], position
            for index in range(position, end):
                if len(picked) == size:
                    break
                event = stream.events[index - first]
                if event["timestamp"] < p.get("startTime", 0) or event["timestamp"] >= p.get("endTime", 1 << 62):
                    continue
                picked.append(dict(event))
            else:
                index = end
        return {"events": picked, "nextForwardToken": f"f/{index}", "nextBackwardToken": f"b/{position}"}


def _now() -> int:
    return int(time.time() * 1000)
