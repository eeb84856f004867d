"""Post-processor of the abalone pipeline: predicted rings in (CSV), age in years out (JSON).

An abalone's age is its number of rings plus 1.5 years. The regressor before this container
answers ``text/csv`` (its ``SAGEMAKER_DEFAULT_INVOCATIONS_ACCEPT``), one prediction per
line; the default ``input_fn`` decodes that into a column. This container is the last of
the pipeline, so it sees the client's Accept: it writes JSON and says so when asked for
anything else.
"""

import json

import numpy as np

from serving.errors import NotAcceptable

YEARS_BEYOND_RINGS = 1.5


def model_fn(model_dir):
    return YEARS_BEYOND_RINGS  # no artefact: the "model" is the offset


def predict_fn(data, offset):
    return np.asarray(data, dtype=float).reshape(-1)


def output_fn(rings, accept):
    if accept not in ("application/json", "*/*"):
        raise NotAcceptable(f"the post-processor writes application/json, not {accept}; send Accept: application/json")
    ages = rings + YEARS_BEYOND_RINGS
    body = {"predictions": [{"rings": round(float(r), 4), "age": round(float(a), 4)} for r, a in zip(rings, ages)]}
    return json.dumps(body), "application/json"
