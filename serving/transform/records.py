"""Splitting a file into records and packing records into requests (mini-batches).

A file's records are kept as offsets into the file's bytes (NumPy arrays of starts and
ends), not as a list of small ``bytes``: finding a million line ends is one vectorised
comparison, and a ``MultiRecord`` request over contiguous records is a slice of the file.

- ``SplitType None``: the whole file is one record.
- ``Line``: one record per line; ``\\n`` and ``\\r\\n`` end lines; empty lines are not records
  (a blank line has nothing to score, and every codec would refuse it).
- ``RecordIO``: MXNet RecordIO framing (magic ``0xced7230a``, a length word, the data, padding
  to 4 bytes). A ``SingleRecord`` request is one framed record without its padding, a
  ``MultiRecord`` request whole framed records back to back (SageMaker: padding is stripped
  for SingleRecord only).

Batching follows SageMaker: ``SingleRecord`` sends one record per request; ``MultiRecord``
as many consecutive records as fit in ``MaxPayloadInMB`` (line records joined by ``\\n``).
Batches never span files. A record larger than the limit fails its file.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..codecs.recordio import frames
from ..errors import PayloadTooLarge

@dataclass
class Records:
    """The records of one file: ``data[starts[i]:ends[i]]`` is record ``i``.

    ``spans`` (RecordIO only) are the ends including padding, used when whole framed records
    are sent back to back.
    """

    data: bytes
    starts: np.ndarray
    ends: np.ndarray
    separator: bytes = b""
    spans: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.starts)

    def __getitem__(self, i: int) -> bytes:
        return self.data[self.starts[i]:self.ends[i]]

    @classmethod
    def from_list(cls, records: list[bytes], separator: bytes) -> "Records":
        """Records built in memory (after an InputFilter), laid out with ``separator``."""
        sizes = np.fromiter((len(r) for r in records), dtype=np.int64, count=len(records))
        starts = np.zeros(len(records), dtype=np.int64)
        if len(records) > 1:
            starts[1:] = np.cumsum(sizes[:-1] + len(separator))
        return cls(separator.join(records), starts, starts + sizes, separator)

    def sizes(self) -> np.ndarray:
        return self.ends - self.starts

    def payload(self, first: int, stop: int) -> bytes:
        """Records ``first..stop-1`` as one request body."""
        span = self.span(first, stop)
        if span is None:
            return self.separator.join(self[i] for i in range(first, stop))
        return self.data[span[0]:span[1]]

    def span(self, first: int, stop: int) -> tuple[int, int] | None:
        """Where the body of records ``first..stop-1`` lies in ``data``, or None when it is not one slice.

        It is not when blank lines or CRs lie between the records: the body joins them
        without. The Spark engine sends executors these offsets instead of the bodies.
        """
        if stop - first == 1:
            return int(self.starts[first]), int(self.ends[first])
        if self.separator and self._has_gaps(first, stop):
            return None
        end = self.spans[stop - 1] if self.spans is not None else self.ends[stop - 1]
        return int(self.starts[first]), int(end)

    def _has_gaps(self, first: int, stop: int) -> bool:
        """True when the slice holds more than records and separators (blank lines, CRs)."""
        needed = int((self.ends[first:stop] - self.starts[first:stop]).sum()) + (stop - first - 1) * len(self.separator)
        return needed != int(self.ends[stop - 1] - self.starts[first])


def split(data: bytes, split_type: str) -> Records:
    if split_type == "Line":
        return split_lines(data)
    if split_type == "RecordIO":
        return split_recordio(data)
    return Records(data, np.array([0], dtype=np.int64), np.array([len(data)], dtype=np.int64))


def split_lines(data: bytes) -> Records:
    buf = np.frombuffer(data, dtype=np.uint8)
    newlines = np.flatnonzero(buf == 0x0A)
    starts = np.concatenate(([0], newlines + 1))
    ends = np.concatenate((newlines, [len(data)]))
    has_cr = (ends > starts) & (buf[np.maximum(ends - 1, 0)] == 0x0D) if len(buf) else np.zeros(len(ends), bool)
    ends = ends - has_cr
    keep = ends > starts
    return Records(data, starts[keep].astype(np.int64), ends[keep].astype(np.int64), b"\n")


def split_recordio(data: bytes) -> Records:
    """Records framed as the RecordIO-protobuf codec frames them (one reader of the framing,
    with its messages naming the record and byte); each record is sent with its header."""
    payloads = frames(data)
    starts = np.array([start - 8 for start, _ in payloads], dtype=np.int64)
    ends = np.array([end for _, end in payloads], dtype=np.int64)
    spans = np.minimum(ends + (-(ends - starts - 8) % 4), len(data))
    return Records(data, starts, ends, b"", spans)


@dataclass(frozen=True)
class Batch:
    """Records ``first..stop-1`` of a file, sent as one request."""

    first: int
    stop: int

    @property
    def count(self) -> int:
        return self.stop - self.first

    def describe(self) -> str:
        """1-based, inclusive: how a report names the records."""
        return f"{self.first + 1}" if self.count == 1 else f"{self.first + 1}-{self.stop}"


def batches(records: Records, strategy: str | None, limit: int | None) -> list[Batch]:
    """Cut a file's records into requests; raises PayloadTooLarge for an oversized record."""
    n = len(records)
    if n == 0:
        return []
    sizes = records.sizes()
    if limit is not None:
        big = np.flatnonzero(sizes > limit)
        if len(big):
            i = int(big[0])
            raise RecordTooLarge(
                f"record {i + 1} is {int(sizes[i])} bytes, larger than MaxPayloadInMB "
                f"({limit // (1024 * 1024)} MB = {limit} bytes); raise MaxPayloadInMB or split the record",
                Batch(i, i + 1),
            )
    if strategy != "MultiRecord" or n == 1:
        return [Batch(i, i + 1) for i in range(n)]
    if limit is None:
        return [Batch(0, n)]
    # Greedy packing over cumulative sizes: each batch is one searchsorted, not one per record.
    packed = records.spans - records.starts if records.spans is not None else sizes
    step = packed + len(records.separator)
    cumulative = np.concatenate(([0], np.cumsum(step)))
    out, first = [], 0
    while first < n:
        stop = int(np.searchsorted(cumulative, cumulative[first] + limit + len(records.separator), side="right")) - 1
        stop = max(stop, first + 1)  # at most n: ``cumulative`` has n + 1 entries
        out.append(Batch(first, stop))
        first = stop
    return out


class RecordTooLarge(PayloadTooLarge):
    """A single record is over MaxPayloadInMB; ``batch`` names it."""

    def __init__(self, message: str, batch: Batch):
        super().__init__(message)
        self.batch = batch
