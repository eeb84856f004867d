"""The BlazingText container, served by a real process: answers equal fastText's own ``predict``."""

from __future__ import annotations

import json
import subprocess

import fasttext
import numpy as np
import pytest

from tests.conftest import ServerProcess, load_example

fasttext.FastText.eprint = lambda *_: None
example = load_example("sparkml-blazingtext/train.py")
TEXTS = ["acme corporation founded headquartered in dublin", "the students of the university campus",
         "singer released debut album", "footballer played for the club", ""]


@pytest.fixture(scope="module")
def classifier_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("blazingtext")
    lines = [f"__label__{label} {text.lower().rstrip('.')}" for label, text in example.make_abstracts(400)]
    example.train_classifier(lines, out, epoch=5)
    return out


@pytest.fixture(scope="module")
def word2vec_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("word2vec")
    text = out / "text.txt"
    text.write_text("".join(t.lower() + "\n" for _, t in example.make_abstracts(300)))
    subprocess.run(["fasttext", "skipgram", "-input", str(text), "-output", str(out / "vectors"), "-dim", "8",
                    "-epoch", "2", "-minCount", "1", "-minn", "0", "-maxn", "0", "-thread", "1", "-verbose", "0"],
                   check=True)
    for extra in ("text.txt", "vectors.vec"):
        (out / extra).unlink()
    return out


@pytest.fixture(scope="module")
def classifier(classifier_dir):
    server = ServerProcess(classifier_dir, framework="blazingtext")
    yield server
    server.stop()


@pytest.fixture(scope="module")
def reference(classifier_dir):
    return fasttext.load_model(str(classifier_dir / "model.bin"))


def expected(model, texts, k):
    return [{"label": list(labels), "prob": [float(p) for p in probs]}
            for labels, probs in (model.predict(t, k=k) for t in texts)]


@pytest.mark.parametrize("k", [1, 3])
def test_json_instances_are_answered_as_fasttext_predicts(classifier, reference, k):
    body = {"instances": TEXTS, "configuration": {"k": k}} if k != 1 else {"instances": TEXTS}
    r = classifier.invoke(json.dumps(body), content_type="application/json")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/json"
    assert r.json() == expected(reference, TEXTS, k)
    # bytes as json.dumps writes them: ", " and ": ", label first, fastText's float32 values
    assert r.content == json.dumps(expected(reference, TEXTS, k)).encode()
    assert all(label.startswith("__label__") for row in r.json() for label in row["label"])


def test_jsonlines_sources_with_a_k_per_line(classifier, reference):
    lines = [{"source": TEXTS[0]}, {"source": TEXTS[1], "k": 2}, {"source": TEXTS[2], "k": 4}]
    body = "".join(json.dumps(line, separators=(",", ":")) + "\n" for line in lines)
    r = classifier.invoke(body, content_type="application/jsonlines", accept="application/json")
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "application/jsonlines"  # the request's type: Accept is ignored
    got = [json.loads(line) for line in r.text.splitlines()]
    assert got == [expected(reference, [line["source"]], line.get("k", 1))[0] for line in lines]


def test_what_the_sparkml_container_sends(classifier, reference):
    r = classifier.invoke('{"source":"convair was an american aircraft manufacturing company"}',
                          content_type="application/jsonlines")
    assert r.status_code == 200
    assert r.text == json.dumps(expected(reference, ["convair was an american aircraft manufacturing company"], 1)[0]) + "\n"


@pytest.mark.parametrize("body, content_type, status, message", [
    ("{not json", "application/json", 400, "the application/json body is not valid JSON: "),
    ('{"data": ["a b"]}', "application/json", 400, 'the application/json body must be {"instances": ["text", ...]}'),
    ('{"instances": ["a", 7]}', "application/json", 400, "instance 2 is int 7; each instance must be a string"),
    ('{"instances": ["a"], "configuration": {"k": 0}}', "application/json", 400,
     "k in configuration is 0; it must be a whole number of at least 1"),
    ('{"source": "a"}\n{"text": "b"}\n', "application/jsonlines", 400,
     'line 2 of the application/jsonlines body must be {"source": "text"}'),
    ("a b c", "text/csv", 415, "Content-Type 'text/csv' is not supported"),
])
def test_bad_requests_are_4xx_and_the_server_keeps_serving(classifier, body, content_type, status, message):
    r = classifier.invoke(body, content_type=content_type)
    assert r.status_code == status
    assert r.json()["message"].startswith(message), r.json()
    assert classifier.invoke('{"instances": ["school"]}', content_type="application/json").status_code == 200


def test_word2vec_vectors(word2vec_dir):
    reference = fasttext.load_model(str(word2vec_dir / "vectors.bin"))
    server = ServerProcess(word2vec_dir, framework="blazingtext")
    try:
        words = ["university", "album", "notaword"]
        r = server.invoke(json.dumps({"instances": words}), content_type="application/json")
        assert r.status_code == 200, r.text
        got = r.json()
        assert [row["word"] for row in got] == words
        for row, word in zip(got, words):
            assert row["vector"] == reference.get_word_vector(word).tolist()
            assert list(row) == ["vector", "word"]
        assert got[2]["vector"] == [0.0] * 8  # not in the vocabulary, no subwords: zeros
        assert np.linalg.norm(got[0]["vector"]) > 0
    finally:
        server.stop()


def test_a_directory_without_a_model_is_a_clear_start_up_error(serve, tmp_path):
    server = serve(tmp_path, framework="blazingtext")
    r = server.get("/ping")
    assert r.status_code == 503
    assert "no model.bin (text classification) or vectors.bin (word2vec)" in r.text
