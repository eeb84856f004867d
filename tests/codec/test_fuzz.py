"""No request body is a 500: every codec and the handler chain, fuzzed.

Hypothesis sends generated bodies, Content-Types and Accepts to real containers' handler
chains (the container app's ``invoke``, what the server runs for ``POST /invocations``): a
``model`` container that echoes its input, and the abalone featurizer and regressor. Whatever
it sends, the answer is a 2xx or a 4xx with a message, never a 5xx.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from serving.server.app import App
from serving.settings import Settings

EXAMPLES = 1000  # per app; docs/reliability.md gives the total

CONTENT_TYPES = ["text/csv", "text/csv; charset=utf-8", "text/csv; charset=latin-1", "text/csv; charset=nope",
                 "application/json", "application/jsonlines", "application/x-jsonlines", "application/x-npy",
                 "application/xml", "", "not a type", "text/csv; bad"]
ACCEPTS = [None, "*/*", "text/csv", "application/json", "application/jsonlines", "application/x-npy", "image/png",
           "text/*;q=0.5, application/json", "text/csv;q=high", ";;", "application/json;q=0"]

CSV_FIELDS = st.sampled_from(["1", "-2.5", "1e999", "nan", "inf", "", " ", "M", "F", "0x10", "1_000", '"a,b"', '"',
                              "\ufeffM", "é", "\x00", "9" * 400])
JSON_VALUES = st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
                           lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=3), inner,
                                                                                     max_size=3), max_leaves=12)


@st.composite
def csv_bodies(draw) -> bytes:
    rows = draw(st.lists(st.lists(CSV_FIELDS, min_size=1, max_size=9), min_size=0, max_size=4))
    end = draw(st.sampled_from(["\n", "\r\n", "\r"]))
    text = end.join(",".join(row) for row in rows)
    return (draw(st.sampled_from(["", "\ufeff"])) + text).encode("utf-8", "surrogatepass")


@st.composite
def npy_bodies(draw) -> bytes:
    buffer = io.BytesIO()
    dtype = draw(st.sampled_from(["<f8", "<i4", "<U3", "|b1", "<f2"]))
    shape = draw(st.lists(st.integers(0, 3), min_size=0, max_size=3))
    np.save(buffer, np.zeros(shape, dtype=dtype))
    body = bytearray(buffer.getvalue())
    for _ in range(draw(st.integers(0, 3))):  # flip some bytes: the header included
        if body:
            body[draw(st.integers(0, len(body) - 1))] = draw(st.integers(0, 255))
    return bytes(body[: draw(st.integers(0, len(body)))] if draw(st.booleans()) else body)


bodies = st.one_of(
    st.binary(max_size=200),
    csv_bodies(),
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.lists(JSON_VALUES, max_size=4).map(lambda vs: "\n".join(json.dumps(v) for v in vs).encode()),
    npy_bodies(),
)

ECHO = "def model_fn(model_dir):\n    return lambda batch: batch\n"


@pytest.fixture(scope="module")
def apps(tmp_path_factory, abalone_models):
    echo = tmp_path_factory.mktemp("echo")
    (echo / "code").mkdir()
    (echo / "code" / "inference.py").write_text(ECHO)
    featurizer, regressor = abalone_models
    return {
        "echo": App(Settings.from_env({}, framework="model", model_dir=str(echo))),
        "featurizer": App(Settings.from_env({}, framework="sklearn", model_dir=str(featurizer))),
        "regressor": App(Settings.from_env({}, framework="sklearn", model_dir=str(regressor))),
    }


def answer(app: App, body: bytes, content_type: str, accept: str | None) -> tuple[int, bytes]:
    headers = {"content-type": content_type} if content_type else {}
    if accept is not None:
        headers["accept"] = accept
    status, _, out = app.invoke(body, headers)
    return status, out


def check(status: int, out: bytes) -> None:
    assert status < 500, out
    if status >= 400:
        doc = json.loads(out)
        assert set(doc) == {"error", "message"} and doc["message"]


@pytest.mark.parametrize("name", ["echo", "featurizer", "regressor"])
@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                       HealthCheck.function_scoped_fixture])
@given(body=bodies, content_type=st.sampled_from(CONTENT_TYPES), accept=st.sampled_from(ACCEPTS))
def test_no_body_content_type_or_accept_makes_a_5xx(apps, name, body, content_type, accept):
    check(*answer(apps[name], body, content_type, accept))


def test_a_byte_order_mark_is_not_part_of_the_first_value(apps):
    plain = answer(apps["featurizer"], b"M,0.455,0.365,0.095,0.514,0.2245,0.101,0.15", "text/csv", "application/json")
    marked = answer(apps["featurizer"], b"\xef\xbb\xbfM,0.455,0.365,0.095,0.514,0.2245,0.101,0.15", "text/csv",
                    "application/json")
    assert marked == plain and plain[0] == 200


def npy_header(shape) -> bytes:
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    return buffer.getvalue()


@pytest.mark.parametrize("body, message", [
    (b'[{"length": [1, 2]}]', "record 1 of the JSON body has a list for column 'length'"),
    (npy_header((9999999999999, 9)), "the .npy header describes a 9999999999999x9 array of float64 "
                                     "(719999999999928 bytes), but the body holds 0 bytes after the header"),
    (npy_header((2, 3)).replace(b"(2, 3)", b"(2, 3]"), "the .npy header is not valid"),
    (b"\x93NUMPY\x01\x00\x76\x00" + b"\x00" * 117 + b"{", "the .npy header is not valid: TokenError"),
], ids=["list-in-a-record", "npy-shape-too-large", "npy-header-not-a-literal", "npy-header-the-tokenizer-refuses"])
def test_mistakes_that_were_500s_are_400s_naming_the_problem(apps, body, message):
    content_type = "application/json" if body.startswith(b"[") else "application/x-npy"
    status, out = answer(apps["echo"], body, content_type, None)
    assert (status, json.loads(out)["message"][:len(message)]) == (400, message)
