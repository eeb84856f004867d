"""scikit-learn defaults: load the one saved estimator, feed it the columns it was fitted on.

- ``model_fn`` loads the single ``*.joblib`` / ``*.pkl`` in the model directory.
- ``predict_fn`` shapes the batch for the estimator: one fitted on a DataFrame
  (``feature_names_in_``) gets a DataFrame with those names, so a ``ColumnTransformer`` over
  named, mixed-type columns works on plain CSV rows; the column count is checked first, so a
  wrong one is a 400 that names what was expected. Then ``predict`` for predictors,
  ``transform`` for fitted transformers (the featurizer case), or the method named by
  ``SERVING_SKLEARN_METHOD``. Sparse output becomes dense rows.
- The loaded estimator is compiled into a plan of NumPy operations
  (:mod:`.compiled`; ``SERVING_SKLEARN_COMPILE=false`` turns it off), which gives
  scikit-learn's numbers without its per-call cost; a request the plan cannot take (or a
  step it does not know) goes to scikit-learn itself, whose answer or error it is.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ... import codecs
from ...codecs.mediatype import MediaType
from ...codecs.tabular import ColumnBatch
from ...errors import BadRequest, ConfigurationError
from ..model.handler import ModelFramework

log = logging.getLogger("serving")

METHODS = ("predict", "predict_proba", "predict_log_proba", "decision_function", "transform")
MODEL_SUFFIXES = (".joblib", ".pkl", ".pickle")


class SklearnFramework(ModelFramework):
    name = "sklearn"

    def __init__(self, settings: Any):
        super().__init__(settings)
        method = settings.sklearn_method
        if method is not None and method not in METHODS:
            raise ConfigurationError(f"SERVING_SKLEARN_METHOD={method} is not one of: {', '.join(METHODS)}")
        self.method = method
        self.plan = None
        self.planned: Any = None  # the estimator the plan was compiled from
        self.columns_ok = True  # no user hook sees the batch (see using_script)

    def model_fn(self, model_dir: str) -> Any:
        import joblib

        found = sorted(p for p in Path(model_dir).iterdir() if p.suffix in MODEL_SUFFIXES and p.is_file())
        if not found:
            raise ConfigurationError(
                f"no *.joblib or *.pkl file in {model_dir}: save the estimator with "
                "joblib.dump(model, 'model.joblib') in the model directory, or define model_fn"
            )
        if len(found) > 1:
            raise ConfigurationError(
                f"{len(found)} model files in {model_dir} ({', '.join(p.name for p in found)}): keep one, or define model_fn"
            )
        model = joblib.load(found[0])
        method = self.method_for(model)  # fail at start-up, not on the first request
        if self.settings.sklearn_compile:
            from .compiled import compile_model

            self.plan, self.planned = compile_model(model, method), model
            log.info("scikit-learn %s.%s: %s", type(model).__name__, method, self.plan.summary())
        return model

    def method_for(self, model: Any) -> str:
        if self.method is not None:
            if not hasattr(model, self.method):
                raise ConfigurationError(f"SERVING_SKLEARN_METHOD={self.method}, but {type(model).__name__} has no {self.method}()")
            return self.method
        for method in ("predict", "transform"):
            if hasattr(model, method):
                return method
        raise ConfigurationError(f"{type(model).__name__} has neither predict() nor transform(); define predict_fn")

    def using_script(self, hooks: dict) -> None:
        # the decoder's columns go straight to the plan only when no user hook sees the batch
        self.columns_ok = not ({"input_fn", "predict_fn", "transform_fn"} & set(hooks))

    def input_fn(self, body: bytes | str, content_type: MediaType) -> Any:
        if (self.plan is not None and self.plan.complete and self.columns_ok
                and str(content_type) in ("text/csv", "application/json") and isinstance(body, str)):
            return codecs.REGISTRY[str(content_type)].decode(body, frame=False)
        return super().input_fn(body, content_type)

    def predict_fn(self, data: Any, model: Any) -> Any:
        if self.plan is not None and model is self.planned:
            row = one_row(data, model)
            if row is not None:
                out = self.plan.row(row)
                if out is not None:
                    return np.array([out])
            try:
                return self.plan.run(data if isinstance(data, ColumnBatch) else shape_for(model, data))
            except Exception:  # noqa: BLE001 - scikit-learn itself answers, or words the error
                pass
        batch = shape_for(model, data.frame() if isinstance(data, ColumnBatch) else data)
        try:
            out = getattr(model, self.method_for(model))(batch)
        except (ValueError, TypeError) as exc:
            raise BadRequest(f"the model rejected the input: {exc}") from None
        if hasattr(out, "toarray"):
            out = out.toarray()
        return out


def one_row(data: Any, model: Any) -> list | None:
    """The values of a one-row batch as Python scalars (for the plan's one-row path), else None."""
    if isinstance(data, ColumnBatch):
        return data.row
    if (isinstance(data, np.ndarray) and data.dtype == np.float64 and data.shape[:1] == (1,) and data.ndim == 2
            and getattr(model, "n_features_in_", None) == data.shape[1]):
        return data[0].tolist()
    return None


def shape_for(model: Any, data: Any) -> Any:
    """The batch as the estimator expects it, or a BadRequest naming the expected columns."""
    names = getattr(model, "feature_names_in_", None)
    expected = getattr(model, "n_features_in_", None)
    if isinstance(data, pd.DataFrame) and names is not None and not _positional(data):
        missing = [n for n in names if n not in data.columns]
        if missing:
            raise BadRequest(f"the input has no column(s) {', '.join(map(str, missing))}; the model needs: {', '.join(map(str, names))}")
        return data[list(names)]
    width = data.shape[1] if getattr(data, "ndim", 2) == 2 else 1
    if expected is not None and width != expected:
        wanted = f" ({', '.join(map(str, names))})" if names is not None else ""
        raise BadRequest(f"expected {expected} columns{wanted}, got {width}")
    if names is not None:
        if isinstance(data, pd.DataFrame):
            data = data.set_axis(list(names), axis=1)
        else:
            data = pd.DataFrame(np.asarray(data), columns=list(names))
        return data
    if isinstance(data, pd.DataFrame) and _positional(data):
        return data.to_numpy()
    return data


def _positional(frame: pd.DataFrame) -> bool:
    return list(frame.columns) == list(range(frame.shape[1]))
