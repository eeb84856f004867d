"""The ``blazingtext`` framework: a BlazingText model directory served as SageMaker's
BlazingText hosting serves it, read with the ``fasttext`` package.

- Text classification: ``model.bin`` (what supervised training writes; any fastText
  supervised ``.bin`` works). ``application/json`` bodies are
  ``{"instances": ["tokens ...", ...], "configuration": {"k": N}}`` and are answered
  ``[{"label": ["__label__x", ...], "prob": [p, ...]}, ...]``; ``application/jsonlines``
  bodies are lines of ``{"source": "tokens ...", "k": N}`` (``k`` optional, per line: what
  the Spark ML container sends with ``Accept: application/jsonlines;data=text``), answered
  with one such object per line. ``k`` defaults to 1; labels keep fastText's ``__label__``.
- Word2vec: ``vectors.bin`` (a fastText unsupervised model). ``{"instances": ["word", ...]}``
  is answered ``[{"vector": [...], "word": "word"}, ...]``; a word not in the vocabulary has a
  vector of zeros, or one made of its character n-grams when the model was trained with them.

As on AWS the answer is in the request's type: BlazingText ignores an Accept that differs
from the Content-Type. Numbers are fastText's float32 values, written as ``json.dumps``
writes them. Instances are tokens separated by spaces, as BlazingText expects (it does not
tokenize); a line break inside an instance is a space here (fastText would end the text
there).
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ...codecs.mediatype import MediaType
from ...errors import BadRequest, ConfigurationError
from ..model.handler import ModelFramework

log = logging.getLogger("serving")

JSON, JSONLINES = "application/json", "application/jsonlines"
SUPERVISED_FILE, WORD2VEC_FILE = "model.bin", "vectors.bin"


@dataclass
class Loaded:
    model: Any
    supervised: bool


@dataclass
class Request:
    texts: list[str]
    ks: list[int]


class BlazingTextFramework(ModelFramework):
    name = "blazingtext"
    input_types = (JSON, JSONLINES, "application/x-jsonlines")
    output_types = (JSON, JSONLINES)
    answers_in_request_type = True

    def model_fn(self, model_dir: str) -> Loaded:
        import fasttext

        fasttext.FastText.eprint = lambda *_: None  # its load_model warns about an API change on stderr
        folder = Path(model_dir)
        for name, supervised in ((SUPERVISED_FILE, True), (WORD2VEC_FILE, False)):
            path = folder / name
            if path.is_file():
                try:
                    model = fasttext.load_model(str(path))
                except ValueError as exc:
                    raise ConfigurationError(f"{path} is not a fastText model: {exc}") from None
                kind = model.f.getArgs().model.name
                if supervised and kind != "supervised":
                    raise ConfigurationError(f"{path} is a {kind} model; a text classification model.bin is "
                                             f"trained with 'supervised' (word vectors go in {WORD2VEC_FILE})")
                log.info("BlazingText %s model %s: %d labels/words, dimension %d", kind, path,
                         len(model.labels) if supervised else len(model.words), model.get_dimension())
                return Loaded(model, supervised)
        raise ConfigurationError(f"no {SUPERVISED_FILE} (text classification) or {WORD2VEC_FILE} (word2vec) in "
                                 f"{model_dir}: a BlazingText model.tar.gz holds one of them")

    def input_fn(self, body: bytes | str, content_type: MediaType) -> Request:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        if str(content_type) == JSON:
            return _json_request(text)
        return _jsonlines_request(text)

    def predict_fn(self, data: Request, model: Loaded) -> list[dict]:
        if not model.supervised:  # word2vec has no k
            return [{"vector": model.model.get_word_vector(word).tolist(), "word": word} for word in data.texts]
        out: list[dict | None] = [None] * len(data.texts)
        for k in sorted(set(data.ks)):
            at = [i for i, each in enumerate(data.ks) if each == k]
            labels, probs = model.model.predict([data.texts[i] for i in at], k=k)
            for i, label, prob in zip(at, labels, probs):
                out[i] = {"label": list(label), "prob": prob.tolist()}
        return out

    def output_fn(self, prediction: list[dict], accept: MediaType) -> tuple[bytes, str]:
        if str(accept) == JSON:
            return json.dumps(prediction).encode(), JSON
        return "".join(json.dumps(row) + "\n" for row in prediction).encode(), JSONLINES


def _loads(text: str, what: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as exc:
        raise BadRequest(f"the {what} is not valid JSON: {exc}") from None


def _k(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise BadRequest(f"k {where} is {json.dumps(value)}; it must be a whole number of at least 1")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise BadRequest(f"{where} is {type(value).__name__} {json.dumps(value)[:80]}; each instance must be a "
                         "string of tokens separated by spaces")
    return value.replace("\r", " ").replace("\n", " ")


def _json_request(text: str) -> Request:
    body = _loads(text, "application/json body")
    if not isinstance(body, dict) or not isinstance(body.get("instances"), list):
        raise BadRequest('the application/json body must be {"instances": ["text", ...]}, optionally with '
                         '"configuration": {"k": N}')
    configuration = body.get("configuration") or {}
    if not isinstance(configuration, dict):
        raise BadRequest('"configuration" must be an object such as {"k": 2}')
    k = _k(configuration.get("k", 1), "in configuration")
    texts = [_text(item, f"instance {i + 1}") for i, item in enumerate(body["instances"])]
    return Request(texts, [k] * len(texts))


def _jsonlines_request(text: str) -> Request:
    texts, ks = [], []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        item = _loads(line, f"application/jsonlines line {n}")
        if not isinstance(item, dict) or "source" not in item:
            raise BadRequest(f'line {n} of the application/jsonlines body must be {{"source": "text"}}, '
                             'optionally with "k": N')
        texts.append(_text(item["source"], f'"source" of line {n}'))
        ks.append(_k(item.get("k", 1), f"of line {n}"))
    if not texts:
        raise BadRequest('the application/jsonlines body holds no lines; send one {"source": "text"} per line')
    return Request(texts, ks)
