"""Predictions are written byte for byte as the AWS inference toolkit writes them.

The reference is the real ``sagemaker_inference.encoder`` (a dev dependency): what the AWS
scikit-learn container answers for the same prediction. Non-finite values are the one
difference on purpose: JSON has no NaN, so we write ``null`` where ``json.dumps`` writes
``NaN`` (docs/serving.md).
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import array_shapes, arrays
from sagemaker_inference import encoder

from serving import codecs
from serving.codecs.mediatype import MediaType

JSON, CSV, JSONL = (MediaType.parse(t) for t in ("application/json", "text/csv", "application/jsonlines"))

finite = st.floats(allow_nan=False, allow_infinity=False)
predictions = st.one_of(
    arrays(np.float64, array_shapes(min_dims=1, max_dims=2, max_side=6), elements=finite),
    arrays(np.float32, array_shapes(min_dims=1, max_dims=2, max_side=6), elements=st.floats(width=32, allow_nan=False,
                                                                                            allow_infinity=False)),
    arrays(np.int64, array_shapes(min_dims=1, max_dims=2, max_side=6)),
)


@settings(max_examples=400, deadline=None)
@given(predictions)
def test_json_is_the_toolkits_json(prediction):
    assert codecs.encode(prediction, JSON) == encoder.encode(prediction, "application/json").encode()


@settings(max_examples=400, deadline=None)
@given(predictions)
def test_csv_is_the_toolkits_csv(prediction):
    assert codecs.encode(prediction, CSV) == encoder.encode(prediction, "text/csv").encode()


@settings(max_examples=200, deadline=None)
@given(arrays(np.float64, array_shapes(min_dims=2, max_dims=2, max_side=5), elements=finite))
def test_each_json_line_is_a_row_as_json_dumps_writes_it(prediction):
    lines = codecs.encode(prediction, JSONL).decode().splitlines()
    assert lines == [encoder.encode(row, "application/json") for row in prediction]


def test_small_and_large_magnitudes_use_pythons_notation():
    values = np.array([5e-05, 0.0001, 1.5e-07, 1e16, 123456789012345678.0, -2.5e-05])
    assert codecs.encode(values, JSON) == b"[5e-05, 0.0001, 1.5e-07, 1e+16, 1.2345678901234568e+17, -2.5e-05]"
