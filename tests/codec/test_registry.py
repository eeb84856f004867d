"""The codec registry: one module per content type, nothing else to touch to add one."""

from __future__ import annotations

import shutil
import textwrap

import pytest

from serving import codecs
from serving.codecs.mediatype import MediaType
from serving.errors import NotAcceptable, UnsupportedMediaType
from tests.conftest import REPO, ServerProcess

UPPER_CODEC = '''
"""``text/x-upper``: a test codec, added as one module and nothing else."""

import numpy as np

from .registry import Codec, register


@register
class UpperCodec(Codec):
    media_types = ("text/x-upper",)
    text = True
    order = 50

    def decode(self, text):
        return np.array([[len(word) for word in text.split()]], dtype=np.float64)

    def encode(self, data):
        return " ".join(str(v).upper() for v in np.asarray(data).ravel()).encode()
'''


def test_each_type_has_one_codec_that_says_whether_its_bodies_are_text():
    assert {t: codecs.REGISTRY[t].text for t in codecs.REGISTRY} == {
        "text/csv": True, "application/json": True, "application/jsonlines": True, "application/x-jsonlines": True,
        "application/x-npy": False, "application/x-recordio-protobuf": False, "text/libsvm": True,
        "text/x-libsvm": True}
    assert codecs.is_text(MediaType.parse("text/plain"))  # a type no codec knows: text when its major type is
    assert not codecs.is_text(MediaType.parse("application/octet-stream"))


def test_415_and_406_name_what_would_be_right():
    with pytest.raises(UnsupportedMediaType, match="send one of: text/csv, application/json, application/jsonlines, "
                                                   "application/x-npy, application/x-recordio-protobuf, text/libsvm$"):
        codecs.decode(b"x", MediaType.parse("application/xml"))
    with pytest.raises(NotAcceptable, match="supported: text/csv, application/json, application/jsonlines, "
                                            "application/x-npy, application/x-recordio-protobuf, text/libsvm$"):
        codecs.encode([1], MediaType.parse("application/xml"))


def test_a_new_content_type_is_one_new_module(tmp_path):
    """A copy of the package with one module added serves the new type, in and out, through a real server."""
    shutil.copytree(REPO / "serving", tmp_path / "serving", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "serving" / "codecs" / "upper.py").write_text(textwrap.dedent(UPPER_CODEC))
    model = tmp_path / "model" / "code"
    model.mkdir(parents=True)
    (model / "inference.py").write_text("def model_fn(model_dir):\n    return lambda batch: batch * 10\n")
    server = ServerProcess(tmp_path / "model", framework="model", env={"PYTHONPATH": str(tmp_path)},
                           cwd=tmp_path)
    try:
        r = server.invoke("a bb ccc", content_type="text/x-upper", accept="text/x-upper")
        assert (r.status_code, r.headers["Content-Type"], r.text) == (200, "text/x-upper", "10.0 20.0 30.0")
        r = server.invoke("a bb", content_type="text/x-upper", accept="application/json")
        assert r.json() == [[10.0, 20.0]]
        r = server.invoke("x", content_type="application/xml")
        assert r.status_code == 415 and r.json()["message"].endswith(
            "application/x-npy, text/x-upper, application/x-recordio-protobuf, text/libsvm")
    finally:
        server.stop()
