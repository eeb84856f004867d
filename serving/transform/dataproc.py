"""``InputFilter``, ``JoinSource`` and ``OutputFilter``: SageMaker's DataProcessing.

Filters and joins work on *rows*: a line of CSV or JSON Lines, or a whole JSON document. A
CSV row is read as an array of its fields (``[1,2,3]``), so ``$[1:]`` drops the first column
and a join appends the output's fields (``[1,2,3]`` + ``[1]`` → ``[1,2,3,1]``). A JSON row
that is an object gains a ``SageMakerOutput`` key; any other JSON row is wrapped as
``{"SageMakerInput": ..., "SageMakerOutput": ...}``. The input side of a join is the record
as read, before the InputFilter (that is how the ID column dropped by ``$[1:]`` comes back).

Rows are handled one by one: filters rearrange each row's fields and there is no columnar
form of "parse this line as JSON"; with both filters at ``$`` and no join this module is
not used at all and bodies pass through untouched.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from typing import Any

from ..codecs.mediatype import MediaType
from ..errors import BadRequest
from . import jsonpath
from .options import FILTERABLE
from .records import Batch, Records


def parse_row(row: bytes, media: str) -> Any:
    text = row.decode("utf-8")
    if media == "text/csv":
        if '"' not in text:
            return text.split(",")
        try:
            return next(csv.reader([text], strict=True))
        except (csv.Error, StopIteration) as exc:
            raise BadRequest(f"the CSV row {text[:80]!r} is malformed: {exc}") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the row {text[:80]!r} is not valid JSON ({exc}); filters and joins need one JSON value per row") from None


def format_row(value: Any, media: str) -> bytes:
    if media != "text/csv":
        return json.dumps(value, separators=(",", ":")).encode()
    fields = value if isinstance(value, list) else [value]
    fields = ["" if f is None else f if isinstance(f, str) else json.dumps(f) for f in fields]
    if not any(c in f for f in fields for c in ',"\n\r'):
        return ",".join(fields).encode()
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue().encode()


def join(source: Any, output: Any, media: str) -> Any:
    if media == "text/csv":
        return list(source) + (output if isinstance(output, list) else [output])
    if isinstance(source, dict):
        if "SageMakerOutput" in source:
            raise BadRequest(
                "the input record already has a 'SageMakerOutput' key, which JoinSource Input reserves for "
                "the model's output: rename that key in the input"
            )
        return {**source, "SageMakerOutput": output}
    return {"SageMakerInput": source, "SageMakerOutput": output}


def split_rows(body: bytes, media: str) -> list[bytes]:
    """A record's rows: its lines for CSV and JSON Lines, the whole body for JSON."""
    if media == "application/json":
        return [body]
    return [line for line in body.splitlines() if line.strip()]


@dataclass(frozen=True)
class DataProcessing:
    """What a job does to records before sending them and to outputs after."""

    input_filter: jsonpath.JsonPath
    output_filter: jsonpath.JsonPath
    join_input: bool
    content_type: str | None  # bare media type of the input
    accept: str | None  # bare media type the output is read as; None: the response's own

    @classmethod
    def from_options(cls, options) -> "DataProcessing":
        bare = lambda m: str(MediaType.parse(m)) if m else None  # noqa: E731
        return cls(jsonpath.parse(options.InputFilter), jsonpath.parse(options.OutputFilter),
                   options.JoinSource == "Input", bare(options.ContentType), bare(options.Accept))

    @property
    def touches_output(self) -> bool:
        return self.join_input or not self.output_filter.is_root

    def filter_input(self, records: Records) -> Records:
        if self.input_filter.is_root:
            return records
        media = self.content_type
        filtered = [
            b"\n".join(format_row(self.input_filter.apply(parse_row(row, media)), media) for row in split_rows(records[i], media))
            for i in range(len(records))
        ]
        return Records.from_list(filtered, records.separator)

    def process_output(self, source: Records, batch: Batch, body: bytes, response_type: str) -> list[bytes]:
        """One output per record of ``batch``, joined and filtered."""
        media = self.accept or str(MediaType.parse(response_type))
        if media not in FILTERABLE:
            raise BadRequest(f"OutputFilter and JoinSource can only read text/csv, application/json and "
                             f"application/jsonlines; the container answered {response_type}: set Accept to one of them")
        per_record = [split_rows(source[i], self.content_type or media) for i in range(batch.first, batch.stop)]
        out_rows = split_rows(body, media) if media != "application/json" or batch.count == 1 else body.splitlines()
        expected = sum(len(rows) for rows in per_record)
        if len(out_rows) != expected:
            raise BadRequest(
                f"the container returned {len(out_rows)} output row(s) for {expected} input row(s); "
                "JoinSource and OutputFilter need exactly one output row per input row"
            )
        outputs, k = [], 0
        for rows in per_record:
            done = []
            for row in rows:
                value = parse_row(out_rows[k], media)
                if self.join_input:
                    value = join(parse_row(row, media), value, media)
                done.append(format_row(self.output_filter.apply(value), media))
                k += 1
            outputs.append(b"\n".join(done))
        return outputs
