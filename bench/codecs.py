"""Decoding cost against body size: wide bodies (many columns) and tall ones (many rows).

For each codec, a body of a quarter and of the full size (default 1,000,000 columns in one
row, and 1,000,000 rows of 8 columns), mixed numbers and text as the abalone rows are: the
time to decode and the peak memory Python allocates doing it (tracemalloc). Linear cost
shows as a ratio near 4 between the two sizes. Run:

    .venv/bin/python bench/codecs.py [--size 1000000]
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import time
import tracemalloc
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from serving import codecs  # noqa: E402
from serving.codecs.mediatype import MediaType  # noqa: E402

ROW = ["M", "0.455", "0.365", "0.095", "0.514", "0.2245", "0.101", "0.15"]


def wide(n: int, kind: str) -> bytes:
    values = [ROW[i % 8] for i in range(n)]
    if kind == "text/csv":
        return (",".join(values) + "\n").encode()
    if kind == "application/json":
        return json.dumps([v if v == "M" else float(v) for v in values]).encode()
    buffer = io.BytesIO()
    np.save(buffer, np.array([[float(v) if v != "M" else 1.0 for v in values]]))
    return buffer.getvalue()


def tall(n: int, kind: str) -> bytes:
    if kind == "text/csv":
        return (",".join(ROW) + "\n").encode() * n
    if kind == "application/jsonlines":
        return (json.dumps(["M", *map(float, ROW[1:])]) + "\n").encode() * n
    buffer = io.BytesIO()
    np.save(buffer, np.tile(np.array([1.0, *map(float, ROW[1:])]), (n, 1)))
    return buffer.getvalue()


def measure(body: bytes, kind: str) -> tuple[float, float]:
    """Seconds (a run of its own: tracing memory slows Python down) and peak MB allocated."""
    media = MediaType.parse(kind)
    started = time.perf_counter()
    codecs.decode(body, media)
    seconds = time.perf_counter() - started
    tracemalloc.start()
    codecs.decode(body, media)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return seconds, peak / 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1_000_000)
    args = parser.parse_args()
    cases = [("wide", wide, kind) for kind in ("text/csv", "application/json", "application/x-npy")]
    cases += [("tall", tall, kind) for kind in ("text/csv", "application/jsonlines", "application/x-npy")]
    print("| body | type | size | bytes | decode s | peak MB | time ratio | memory ratio |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for shape, make, kind in cases:
        small = measure(make(args.size // 4, kind), kind)
        body = make(args.size, kind)
        full = measure(body, kind)
        unit = "columns" if shape == "wide" else "rows"
        print(f"| {shape} | {kind} | {args.size:,} {unit} | {len(body):,} | {full[0]:.2f} | {full[1]:.0f} | "
              f"{full[0] / small[0]:.1f} | {full[1] / small[1]:.1f} |")


if __name__ == "__main__":
    main()
