"""The abalone featurizer's inference hooks, in the shape of the public SageMaker example's
``sklearn_abalone_featurizer.py``: the SageMaker SDK uploads this folder as ``sourcedir.tar.gz``
and the scikit-learn container imports it (``SAGEMAKER_PROGRAM=featurizer.py``)."""

import json
import os
from io import StringIO

import joblib
import pandas as pd
from flask import Response
from sagemaker_inference import encoder

NAMES = ["sex", "length", "diameter", "height", "whole_weight", "shucked_weight", "viscera_weight", "shell_weight"]


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


def input_fn(input_data, content_type):
    if content_type == "text/csv":
        frame = pd.read_csv(StringIO(input_data), header=None)
        frame.columns = NAMES + ["rings"] if len(frame.columns) == len(NAMES) + 1 else NAMES
        return frame
    raise ValueError("{} not supported by script!".format(content_type))


def predict_fn(input_data, model):
    return model.transform(input_data[NAMES])


def output_fn(prediction, accept):
    if accept == "application/json":
        rows = [{"features": row} for row in prediction.tolist()]
        return Response(json.dumps({"instances": rows}), mimetype=accept)
    if accept == "text/csv":
        return Response(encoder.encode(prediction, accept), mimetype=accept)
    raise RuntimeError("{} accept type is not supported by this script.".format(accept))
