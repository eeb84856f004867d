"""The ``xgboost`` framework: the open-source SageMaker XGBoost container's serving, in both modes.

**Algorithm mode** (no user script). Every regular file of the model directory (not dot
files, not folders such as ``code/``) is a model: ``xgboost-model`` as SageMaker's training
writes it, pickled or in XGBoost's own formats (JSON, UBJ, legacy binary). With
``SAGEMAKER_INFERENCE_ENSEMBLE=true`` (the default; only that exact value) several files are
one ensemble: their predictions are averaged, or voted per row for ``multi:softmax`` and
``binary:hinge``. Models load once, before the workers fork. Requests are ``text/csv``
(``label_size=1`` allowed), ``text/libsvm`` and ``application/x-recordio-protobuf``, many rows
each, read by the codec registry; their width is checked against the booster's. A body of
no bytes is answered 204. Predictions use every tree (``validate_features=False``), as AWS
predicts; rows are predicted in place (``inplace_predict``: the same numbers as through a
``DMatrix``, without copying the rows into one first). Answers, ``text/csv`` by default:

- without ``SAGEMAKER_INFERENCE_OUTPUT``: CSV of one prediction per line (a row per line for
  multi-output models), ``{"predictions": [{"score": ...}, ...]}`` for JSON, ``{"score": ...}``
  lines for JSON Lines, records with a ``score`` label for RecordIO-protobuf; when
  ``SAGEMAKER_BATCH`` is set, one prediction per line whatever the Accept, as AWS writes it;
- with it: the selected keys per row (``predicted_label``, ``labels``, ``probability``,
  ``probabilities``, ``raw_score``, ``raw_scores``, ``predicted_score``, as the objective
  allows), as AWS writes each type.

**Script mode** (a user script): its hooks win; the defaults are AWS's script-mode defaults
(``input_fn`` gives a ``DMatrix``, ``predict_fn`` calls ``model.predict(dmatrix,
validate_features=False)``, ``output_fn`` encodes the array with the codec registry; the
default Accept is ``application/json``). Without a ``model_fn`` the model directory is
loaded as in algorithm mode.

Where this differs from the AWS container on purpose (an unknown output key fails at start
instead of answering NaN, the vote works, a width mismatch is a 400 for every model format)
is listed in ``docs/xgboost.md``.
"""

from __future__ import annotations

import json
import logging
import pickle
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ... import codecs
from ...codecs.mediatype import MediaType
from ...codecs.recordio import write_record
from ...codecs.record import Record
from ...errors import BadRequest, ConfigurationError
from ...handlers.transformer import Result
from ..model.handler import ModelFramework

log = logging.getLogger("serving")

CSV, LIBSVM, RECORDIO = "text/csv", "text/libsvm", "application/x-recordio-protobuf"
JSON, JSONLINES = "application/json", "application/jsonlines"
INPUT_TYPES = (CSV, LIBSVM, "text/x-libsvm", RECORDIO)

#: the selectable keys each objective allows, in the order AWS writes them
KEYS = ("predicted_label", "labels", "probability", "probabilities", "raw_score", "raw_scores", "predicted_score")
VALID_KEYS = {
    **{objective: ("predicted_score",) for objective in
       ("reg:squarederror", "reg:logistic", "reg:gamma", "reg:absoluteerror", "reg:tweedie")},
    "binary:logistic": ("predicted_label", "labels", "probability", "probabilities", "raw_score", "raw_scores"),
    "binary:logitraw": ("predicted_label", "labels", "raw_score", "raw_scores"),
    "binary:hinge": ("predicted_label", "labels", "raw_score", "raw_scores"),
    "multi:softmax": ("predicted_label", "labels", "raw_score", "raw_scores"),
    "multi:softprob": ("predicted_label", "labels", "probability", "probabilities", "raw_score", "raw_scores"),
}
VOTED = ("multi:softmax", "binary:hinge")


@dataclass
class Loaded:
    """What algorithm mode's ``model_fn`` returns: the boosters of one model (several: an ensemble)."""

    boosters: list[Any]
    files: list[str]
    objective: str
    num_class: int
    compiled: list[Any] | None = None  # every booster compiled (serving.frameworks.xgboost.compiled), or None
    num_features: int = field(init=False)

    def __post_init__(self) -> None:
        self.num_features = self.boosters[0].num_features()

    def predict(self, data: Any) -> np.ndarray:
        """Every booster's prediction for ``data`` (a ``DMatrix``, or rows: a NumPy array or
        CSR matrix, predicted in place, without the copy into a DMatrix; the same numbers),
        combined as the AWS container combines an ensemble's."""
        preds = self._compiled(data)
        if preds is None and hasattr(data, "num_col"):
            preds = [booster.predict(data, validate_features=False) for booster in self.boosters]
        elif preds is None:
            preds = [booster.inplace_predict(data, validate_features=False) for booster in self.boosters]
        if len(preds) == 1:
            return preds[0]
        if self.objective in VOTED:
            from scipy import stats

            return stats.mode(np.stack(preds), axis=0, keepdims=False).mode
        return np.mean(preds, axis=0)


    def _compiled(self, data: Any) -> list[np.ndarray] | None:
        """The compiled boosters' predictions for dense rows; None for XGBoost to predict (no
        compiled boosters, sparse rows, or rows it is to judge, such as an infinity)."""
        if self.compiled is None or not isinstance(data, np.ndarray):
            return None
        try:
            return [booster.predict(data) for booster in self.compiled]
        except ValueError:
            return None


class XGBoostFramework(ModelFramework):
    name = "xgboost"
    input_types = INPUT_TYPES
    output_types = (CSV, JSON, JSONLINES, RECORDIO)
    default_accept = CSV

    def __init__(self, settings: Any):
        super().__init__(settings)
        raw = settings.inference_output
        self.selected = [key for key in raw.replace(" ", "").lower().split(",")] if raw else None
        self.script_mode = False
        self.loaded: Loaded | None = None

    def using_script(self, hooks: dict) -> None:
        if hooks:
            self.script_mode = True
            self.default_accept = JSON
            self.output_types = codecs.ENCODABLE

    # -- model_fn -------------------------------------------------------------------------
    def model_fn(self, model_dir: str) -> Loaded:
        import xgboost as xgb

        files = sorted(p for p in Path(model_dir).iterdir() if p.is_file() and not p.name.startswith("."))
        if not files:
            raise ConfigurationError(f"no model file in {model_dir}: put the trained xgboost-model there")
        if not self.settings.inference_ensemble:
            files = files[:1]
        boosters = []
        for path in files:
            boosters.append(_load_booster(path, xgb, ensemble=len(files) > 1))
        config = json.loads(boosters[0].save_config())["learner"]
        objective = config["objective"]["name"]
        num_class = int(config["learner_model_param"].get("num_class") or 0)
        compiled = None
        if self.settings.xgboost_compile:
            from .compiled import compile_booster

            compiled = [compile_booster(booster) for booster in boosters]
            compiled = None if None in compiled else compiled
        loaded = Loaded(boosters, [p.name for p in files], objective, num_class, compiled)
        widths = {booster.num_features() for booster in boosters}
        if len(widths) > 1:
            raise ConfigurationError(f"the ensemble's models take different numbers of features ({sorted(widths)}): "
                                     f"{', '.join(loaded.files)}")
        self._check_selected(objective)
        log.info("XGBoost %s: %s, %d features%s; %s", ", ".join(loaded.files), objective, loaded.num_features,
                 f", ensemble of {len(boosters)}" if len(boosters) > 1 else "",
                 "trees compiled" if compiled else "predicted by XGBoost" + (
                     "" if self.settings.xgboost_compile else " (SERVING_XGBOOST_COMPILE=false)"))
        self.loaded = loaded
        return loaded

    def _check_selected(self, objective: str) -> None:
        if self.selected is None or self.script_mode:
            return
        valid = VALID_KEYS.get(objective)
        if valid is None:
            raise ConfigurationError(f"SAGEMAKER_INFERENCE_OUTPUT is set, but the model's objective {objective} has "
                                     f"no selectable output; it is supported for: {', '.join(VALID_KEYS)}")
        wrong = [key for key in self.selected if key not in valid]
        if wrong:
            raise ConfigurationError(f"SAGEMAKER_INFERENCE_OUTPUT names {', '.join(wrong)}, which {objective} does "
                                     f"not produce; choose from: {', '.join(valid)}")

    # -- input_fn -------------------------------------------------------------------------
    def input_fn(self, body: bytes | str, content_type: MediaType) -> Any:
        if not body:
            return None
        if str(content_type) == CSV and content_type.params.get("label_size", "1") != "1":
            raise codecs.unsupported(f"{content_type.full} is not an accepted csv ContentType. Optional parameter "
                                     "label_size must be equal to 1", INPUT_TYPES)
        data = codecs.decode(body, content_type)
        if hasattr(data, "dtypes"):  # a DataFrame: some column is text
            text = [c for c, dtype in data.dtypes.items() if dtype.kind not in "fiub"]
            raise BadRequest(f"column(s) {', '.join(str(c + 1) for c in text)} of the {content_type} body hold "
                             f"text (e.g. {data[text[0]].dropna().iloc[0]!r}); XGBoost reads numbers only")
        self._check_width(data, str(content_type))
        if self.script_mode:  # the AWS container's script-mode input_fn gives the user's predict_fn a DMatrix
            import xgboost as xgb

            return xgb.DMatrix(data, missing=np.nan, nthread=1)
        return data

    def _check_width(self, data: Any, content_type: str) -> None:
        if self.loaded is None:
            return
        expected, got = self.loaded.num_features, data.shape[1]
        if content_type in (LIBSVM, "text/x-libsvm"):
            if got > expected:
                raise BadRequest(f"the text/libsvm body names feature {got} (index {got} 1-based, {got - 1} 0-based), "
                                 f"beyond the model's {expected} features")
            return
        if got != expected:
            hint = ("; a label column does not belong in the request: send the features only"
                    if got == expected + 1 else "")
            raise BadRequest(f"expected {expected} features per row (the model's width), got {got}{hint}")

    # -- predict_fn -----------------------------------------------------------------------
    def predict_fn(self, data: Any, model: Any) -> Any:
        if data is None:
            return None
        if isinstance(model, Loaded):
            return model.predict(data)
        import xgboost as xgb

        if not isinstance(data, xgb.DMatrix):
            data = xgb.DMatrix(data, nthread=1)
        return model.predict(data, validate_features=False)

    # -- output_fn ------------------------------------------------------------------------
    def output_fn(self, prediction: Any, accept: MediaType) -> Any:
        if prediction is None:
            return Result(b"", str(accept), 204)
        if self.script_mode:
            return super().output_fn(prediction, accept)
        accept_type = str(accept)
        if self.selected is not None and self.loaded is not None:
            rows = selected_rows(prediction, self.loaded.objective, self.loaded.num_class, self.selected)
            return encode_selected(rows, self.selected, accept_type, self.settings.batch), accept_type
        values = np.asarray(prediction).tolist()
        if self.settings.batch:
            return ("\n".join(map(str, values)) + "\n").encode(), accept_type
        if accept_type == JSON:
            return json.dumps({"predictions": [{"score": v} for v in values]}).encode(), JSON
        if accept_type == JSONLINES:
            return "".join(json.dumps({"score": v}) + "\n" for v in values).encode(), JSONLINES
        if accept_type == RECORDIO:
            return _records([{"score": v} for v in values]), RECORDIO
        return "".join((",".join(map(str, v)) if isinstance(v, list) else str(v)) + "\n" for v in values).encode(), CSV


def _load_booster(path: Path, xgb, ensemble: bool) -> Any:
    """A booster from a pickle (the model file is the user's own artifact, as on AWS; request
    bodies are never unpickled) or from any of XGBoost's formats."""
    try:
        with open(path, "rb") as f:
            pickled = f.read(1) == b"\x80"  # every pickle protocol since 2 starts so; XGBoost's formats never do
            f.seek(0)
            if pickled:
                booster = pickle.load(f)
                if hasattr(booster, "get_booster"):  # a scikit-learn API model (XGBRegressor, ...)
                    booster = booster.get_booster()
                if not isinstance(booster, xgb.Booster):
                    raise TypeError(f"the pickle holds a {type(booster).__name__}, not an xgboost.Booster")
            else:
                booster = xgb.Booster()
                booster.load_model(str(path))
    except Exception as exc:  # noqa: BLE001 - any reason a file is not a model: unpickling or XGBoost's own
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        extra = (" With SAGEMAKER_INFERENCE_ENSEMBLE=true every file in the model directory is a model: remove "
                 "the others, or set SAGEMAKER_INFERENCE_ENSEMBLE=false" if ensemble else "")
        raise ConfigurationError(f"{path} is not an XGBoost model (pickled or saved by save_model): {reason}.{extra}") from None
    booster.set_param("nthread", 1)
    return booster


# -- selectable output --------------------------------------------------------------------
def selected_rows(prediction: np.ndarray, objective: str, num_class: int, keys: list[str]) -> list[dict]:
    """Each row's selected values, computed as the AWS container computes them."""
    wanted = [key for key in KEYS if key in keys]
    binary, multi = objective.startswith("binary:"), objective.startswith("multi:")
    labels = [0, 1] if binary else list(range(num_class)) if multi and num_class else float("nan")
    rows = []
    for raw in prediction:
        row = np.asarray(raw)
        one = row.item() if row.ndim == 0 else None
        softprob = objective == "multi:softprob"
        values = {
            "predicted_label": (int(np.argmax(row)) if softprob else int(one > 0.5) if objective == "binary:logistic"
                                else int(one > 0) if objective == "binary:logitraw" else one),
            "labels": labels,
            "probability": row.max().item() if softprob else one,
            "probabilities": row.tolist() if softprob else [1.0 - one, one] if one is not None else None,
            "raw_score": row.max().item() if softprob else one,
            "raw_scores": row.tolist() if softprob else [1.0 - one, one] if one is not None else None,
            "predicted_score": one,
        }
        rows.append({key: values[key] for key in wanted})
    return rows


def encode_selected(rows: list[dict], keys: list[str], accept: str, batch: bool) -> bytes:
    if accept == JSON:
        return json.dumps({"predictions": rows}).encode()
    if accept == JSONLINES:
        return "".join(json.dumps(row) + "\n" for row in rows).encode()
    if accept == RECORDIO:
        return _records(rows)
    lines = (",".join(f'"{row[key]}"' if isinstance(row[key], list) else str(row[key]) for key in keys) for row in rows)
    return ("\n".join(lines) + ("\n" if batch else "")).encode()


def _records(rows: list[dict]) -> bytes:
    """One Record per row, each value a float32 tensor under its key in ``label`` (as the
    built-in algorithms answer); unlike the AWS container's writer, each frame holds its own
    record only."""
    out = bytearray()
    record = Record()
    for row in rows:
        record.Clear()
        for key, value in row.items():
            record.label[key].float32_tensor.values.extend(value if isinstance(value, list) else [value])
        out += write_record(record.SerializeToString())
    return bytes(out)
