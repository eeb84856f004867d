"""Post-processor of the abalone pipeline: predicted rings in, age in years out (JSON).

An abalone's age is its number of rings plus 1.5 years. The regressor before this container
answers one predicted ring count per record (``text/csv``, its
``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``); the default ``input_fn`` decodes that into a
column. This container is the last of the pipeline, so it sees the client's Accept: it
writes JSON and says so when asked for anything else.

The same script is the custom algorithm image of ``examples/custom-container``, built
``FROM`` the model image; here it runs in a plain model container as the model's code.
"""

import json

import numpy as np

from serving.errors import BadRequest, NotAcceptable

YEARS_BEYOND_RINGS = 1.5


def model_fn(model_dir):
    """Nothing to load: the rule is fixed (the model directory may well be empty)."""
    return YEARS_BEYOND_RINGS


def predict_fn(data, offset):
    try:
        rings = np.asarray(data, dtype=float)
    except (TypeError, ValueError) as exc:
        raise BadRequest(f"predicted ring counts must be numbers: {exc}") from None
    if rings.ndim == 2 and rings.shape[1] == 1:
        rings = rings[:, 0]
    if rings.ndim != 1:
        raise BadRequest(f"expected one predicted ring count per record, got records of shape {rings.shape[1:]}")
    return rings, rings + offset


def output_fn(prediction, accept):
    if accept != "application/json":
        raise NotAcceptable(f"this post-processor answers application/json only, not {accept}")
    rings, ages = prediction
    body = {"predictions": [{"rings": round(float(r), 4), "age": round(float(a), 4)} for r, a in zip(rings, ages)]}
    return json.dumps(body), "application/json"
