"""Post-processor of the abalone pipeline: predicted rings in, age in years out.

An abalone's age is its ring count plus 1.5 years. The predictor before this container
answers one predicted ring count per record; this script adds the 1.5 and answers JSON
with both columns, so the pipeline's client reads the age directly.

Only the hooks that differ from the model image's defaults are defined: the default
``input_fn`` already decodes CSV, JSON and NPY bodies into a NumPy array.
"""

import json

import numpy as np

from serving.errors import BadRequest, NotAcceptable

YEARS_BEFORE_FIRST_RING = 1.5


def model_fn(model_dir):
    """Nothing to load: the rule is fixed. (The model directory may well be empty.)"""
    return YEARS_BEFORE_FIRST_RING


def predict_fn(data, offset):
    try:
        rings = np.asarray(data, dtype=float)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"predicted ring counts must be numbers: {exc}") from None
    if rings.ndim == 2 and rings.shape[1] == 1:
        rings = rings[:, 0]
    if rings.ndim != 1:
        raise BadRequest(
            f"expected one predicted ring count per record, got records of shape {rings.shape[1:]}"
        )
    return {"rings": rings, "age": rings + offset}


def output_fn(prediction, accept):
    if accept != "application/json":
        raise NotAcceptable(f"this post-processor answers application/json only, not {accept}")
    columns = {name: values.tolist() for name, values in prediction.items()}
    return json.dumps(columns), "application/json"
