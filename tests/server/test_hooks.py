"""User scripts: each hook combination, typed errors from hooks, and start-up errors."""

import json
import subprocess
import sys
import tarfile
import textwrap

import pytest

from tests.conftest import ABALONE, REPO


def model_dir(tmp_path, script: str, name="inference.py", extra=None):
    code = tmp_path / "model" / "code"
    code.mkdir(parents=True)
    (code / name).write_text(textwrap.dedent(script))
    for fname, text in (extra or {}).items():
        (code / fname).write_text(text)
    return tmp_path / "model"


DOUBLER = """
    def model_fn(model_dir):
        return lambda batch: batch * 2
"""


def test_model_fn_only_uses_default_codecs_and_callable_model(tmp_path, serve):
    server = serve(model_dir(tmp_path, """
        def model_fn(model_dir):
            return lambda batch: batch * 2
    """), framework="model")
    r = server.invoke("1,2\n3,4")
    assert (r.status_code, r.json()) == (200, [[2.0, 4.0], [6.0, 8.0]])


def test_input_fn_gets_str_for_text_and_bytes_otherwise(tmp_path, serve):
    server = serve(model_dir(tmp_path, DOUBLER + """
    def input_fn(body, content_type):
        return [type(body).__name__, content_type, content_type.params]

    def predict_fn(data, model):
        return data

    def output_fn(prediction, accept):
        import json
        return json.dumps(prediction), "application/json"
    """), framework="model")
    assert server.invoke("1,2", content_type="text/csv; charset=utf-8").json() == ["str", "text/csv", {"charset": "utf-8"}]
    assert server.invoke(b"\x00\x01", content_type="application/octet-stream").json() == [
        "bytes", "application/octet-stream", {}]


def test_output_fn_returning_a_flask_response_chooses_status_and_headers(tmp_path, serve):
    server = serve(model_dir(tmp_path, DOUBLER + """
    from flask import Response

    def output_fn(prediction, accept):
        return Response("made,by,flask\\n", status=201, mimetype="text/csv", headers={"X-Amzn-SageMaker-Custom-Attributes": "k=v"})
    """), framework="model")
    r = server.invoke("1", accept="text/csv")
    assert r.status_code == 201
    assert r.text == "made,by,flask\n"
    assert r.headers["Content-Type"] == "text/csv"  # werkzeug's added charset is dropped
    assert r.headers["X-Amzn-SageMaker-Custom-Attributes"] == "k=v"


def test_output_fn_gets_the_negotiated_type_and_may_serve_custom_types(tmp_path, serve):
    server = serve(model_dir(tmp_path, DOUBLER + """
    def output_fn(prediction, accept):
        return "accept=" + accept
    """), framework="model")
    r = server.invoke("1", accept="application/x-custom;q=0.9, */*;q=0.1")
    assert (r.text, r.headers["Content-Type"]) == ("accept=application/x-custom", "application/x-custom")
    r = server.invoke("1")
    assert (r.text, r.headers["Content-Type"]) == ("accept=application/json", "application/json")


def test_transform_fn_alone(tmp_path, serve):
    server = serve(model_dir(tmp_path, DOUBLER + """
    def transform_fn(model, body, content_type, accept):
        return f"{model(1)}|{body}|{content_type}|{accept}", "text/plain"
    """), framework="model")
    r = server.invoke("7", content_type="text/csv", accept="text/plain")
    assert (r.status_code, r.text, r.headers["Content-Type"]) == (200, "2|7|text/csv|text/plain", "text/plain")


def test_transform_fn_with_other_hooks_fails_at_start_naming_them(tmp_path, serve):
    server = serve(model_dir(tmp_path, DOUBLER + """
    def input_fn(body, content_type):
        return body

    def output_fn(prediction, accept):
        return prediction

    def transform_fn(model, body, content_type, accept):
        return body
    """), framework="model")
    r = server.get("/ping")
    assert r.status_code == 503
    assert "defines transform_fn together with input_fn, output_fn" in r.text
    assert "defines transform_fn together with input_fn, output_fn" in server.log()


def test_hooks_raise_typed_errors_to_choose_the_status(tmp_path, serve):
    server = serve(model_dir(tmp_path, DOUBLER + """
    from serving.errors import BadRequest, UnsupportedMediaType

    def input_fn(body, content_type):
        if content_type != "text/csv":
            raise UnsupportedMediaType("only text/csv, please")
        if "bad" in body:
            raise BadRequest("the word 'bad' is not allowed")
        return body

    def predict_fn(data, model):
        return data
    """), framework="model")
    r = server.invoke("bad")
    assert (r.status_code, r.json()) == (400, {"error": "BadRequest", "message": "the word 'bad' is not allowed"})
    r = server.invoke("{}", content_type="application/json")
    assert (r.status_code, r.json()["message"]) == (415, "only text/csv, please")


def test_an_exception_in_the_model_is_a_500_without_traceback(tmp_path, serve):
    server = serve(model_dir(tmp_path, DOUBLER + """
    def predict_fn(data, model):
        raise ZeroDivisionError("division by zero")
    """), framework="model")
    r = server.invoke("1")
    assert r.status_code == 500
    assert r.json() == {"error": "ModelError", "message": "predict_fn failed: ZeroDivisionError: division by zero"}
    assert "Traceback" not in r.text
    assert "Traceback" in server.log()


def test_execution_parameters_fn(tmp_path, serve):
    server = serve(model_dir(tmp_path, DOUBLER + """
    def execution_parameters_fn():
        return {"MaxConcurrentTransforms": 3, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 1}
    """), framework="model")
    assert server.get("/execution-parameters").json() == {
        "MaxConcurrentTransforms": 3, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 1}


def test_model_container_without_model_fn_says_so(tmp_path, serve):
    (tmp_path / "empty").mkdir()
    server = serve(tmp_path / "empty", framework="model")
    r = server.get("/ping")
    assert r.status_code == 503
    assert "must define model_fn(model_dir)" in r.text
    r = server.invoke("1")
    assert r.status_code == 503


def test_program_from_a_submit_directory_tarball(tmp_path, serve):
    src = tmp_path / "src"
    src.mkdir()
    (src / "entry.py").write_text("def model_fn(d):\n    return lambda x: x + 1\n")
    (src / "helper.py").write_text("OFFSET = 1\n")
    with tarfile.open(tmp_path / "sourcedir.tar.gz", "w:gz") as tar:
        tar.add(src / "entry.py", "entry.py")
        tar.add(src / "helper.py", "helper.py")
    (tmp_path / "m").mkdir()
    server = serve(tmp_path / "m", framework="model", env={
        "SAGEMAKER_PROGRAM": "entry.py", "SAGEMAKER_SUBMIT_DIRECTORY": f"file://{tmp_path / 'sourcedir.tar.gz'}"})
    assert server.invoke("1,2").json() == [[2.0, 3.0]]


def test_missing_program_is_named(tmp_path, serve):
    (tmp_path / "m").mkdir()
    server = serve(tmp_path / "m", framework="model", env={"SAGEMAKER_PROGRAM": "nope.py"})
    assert server.get("/ping").status_code == 503
    assert f"SAGEMAKER_PROGRAM nope.py was not found in {tmp_path / 'm' / 'code'}" in server.get("/ping").text


def test_requirements_txt_is_installed_at_start(tmp_path, serve):
    pkg = tmp_path / "tinypkg"
    (pkg / "serving_tiny_dep").mkdir(parents=True)
    (pkg / "serving_tiny_dep" / "__init__.py").write_text("ANSWER = 42\n")
    (pkg / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "serving-tiny-dep"\nversion = "1.0"\n')
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "wheels"), str(pkg)], check=True)
    wheel = next((tmp_path / "wheels").glob("*.whl"))
    try:
        server = serve(model_dir(tmp_path, """
            import serving_tiny_dep

            def model_fn(model_dir):
                return lambda batch: batch * 0 + serving_tiny_dep.ANSWER
        """, extra={"requirements.txt": f"{wheel}\n"}), framework="model")
        assert server.invoke("1").json() == [[42.0]]
    finally:
        subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", "serving-tiny-dep"], check=False)


# -- scripts written for the AWS containers ------------------------------------------------
ABALONE_NAMES = ["sex", "length", "diameter", "height", "whole_weight", "shucked_weight", "viscera_weight", "shell_weight"]

# The shape of the public SageMaker abalone featurizer script, current form: the example's entry point.
CURRENT_FORM = (REPO / "examples" / "from-sagemaker" / "code" / "featurizer.py").read_text()

OLD_FORM = """
    # The same script in its older form, on sagemaker_containers.
    import json
    import os
    from io import StringIO

    import joblib
    import pandas as pd
    from sagemaker_containers.beta.framework import content_types, encoders, env, modules, transformer, worker

    NAMES = %r

    def model_fn(model_dir):
        return joblib.load(os.path.join(model_dir, "model.joblib"))

    def input_fn(input_data, content_type):
        if content_type == content_types.CSV:
            df = pd.read_csv(StringIO(input_data), header=None)
            df.columns = NAMES + ["rings"] if len(df.columns) == len(NAMES) + 1 else NAMES
            return df
        raise ValueError("{} not supported by script!".format(content_type))

    def predict_fn(input_data, model):
        return model.transform(input_data[NAMES])

    def output_fn(prediction, accept):
        if accept == "application/json":
            return worker.Response(json.dumps({"instances": [{"features": row} for row in prediction.tolist()]}), mimetype=accept)
        if accept == "text/csv":
            return worker.Response(encoders.encode(prediction, accept), mimetype=accept)
        raise RuntimeError("{} accept type is not supported by this script.".format(accept))
""" % (ABALONE_NAMES,)


@pytest.mark.parametrize("script", [CURRENT_FORM, OLD_FORM], ids=["sagemaker_inference", "sagemaker_containers"])
def test_public_abalone_featurizer_script_runs_unchanged(script, tmp_path, serve, abalone_models):
    import io

    import joblib
    import numpy as np
    import pandas as pd

    mdir = model_dir(tmp_path, script)
    (mdir / "model.joblib").write_bytes((abalone_models[0] / "model.joblib").read_bytes())
    server = serve(mdir, framework="sklearn", env={"SAGEMAKER_PROGRAM": "inference.py"})
    rows = ABALONE.read_text().splitlines()[:3]
    expected = joblib.load(mdir / "model.joblib").transform(
        pd.read_csv(io.StringIO("\n".join(rows)), header=None, names=ABALONE_NAMES + ["rings"])[ABALONE_NAMES])

    r = server.invoke("\n".join(rows))  # labelled rows, as in the example's batch step
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/json"
    np.testing.assert_allclose([i["features"] for i in r.json()["instances"]], expected, rtol=1e-12)

    r = server.invoke("\n".join(rows), accept="text/csv")
    assert r.headers["Content-Type"] == "text/csv"
    np.testing.assert_allclose(np.loadtxt(io.StringIO(r.text), delimiter=","), expected, rtol=1e-12)

    # its own error for other types is a ValueError: a model fault, answered without a traceback
    r = server.invoke(json.dumps([[1]]), content_type="application/json")
    assert r.status_code == 500
    assert r.json()["message"] == "input_fn failed: ValueError: application/json not supported by script!"


def test_hooks_can_read_the_request_headers(tmp_path, serve):
    server = serve(model_dir(tmp_path, DOUBLER + """
    from serving.handlers.context import current_request

    def output_fn(prediction, accept):
        req = current_request()
        return f"{req.request_id}|{req.custom_attributes}|{req.headers['content-type']}"
    """), framework="model")
    r = server.invoke("1", **{"X-Amzn-SageMaker-Inference-Id": "id-9", "X-Amzn-SageMaker-Custom-Attributes": "trace=1"})
    assert r.text == "id-9|trace=1|text/csv"


def test_output_fn_returning_a_dict_is_answered_as_flask_writes_json(tmp_path, serve):
    """The pattern of the SageMaker examples' archived sklearn script: output_fn returns a dict."""
    server = serve(model_dir(tmp_path, DOUBLER + """
    def output_fn(prediction, content_type):
        return {"Output": int(prediction[0][0]), "Also": "é"}
    """), framework="model")
    r = server.invoke("21")
    assert (r.status_code, r.headers["Content-Type"], r.content) == (
        200, "application/json", b'{"Also":"\\u00e9","Output":42}\n')


def test_output_fn_returning_a_list_is_json_too(tmp_path, serve):
    server = serve(model_dir(tmp_path, DOUBLER + """
    def output_fn(prediction, content_type):
        return prediction.tolist()
    """), framework="model")
    r = server.invoke("1,2")
    assert (r.status_code, r.headers["Content-Type"], r.content) == (200, "application/json", b"[[2.0,4.0]]\n")


TOOLKIT_ERRORS = """
    from sagemaker_inference import errors

    class FooUserError(errors.BaseInferenceToolkitError):  # the toolkit's own tests: no super().__init__()
        def __init__(self, status_code, message):
            self.status_code = status_code
            self.message = message
            self.phrase = "Foo"

    def model_fn(model_dir):
        return None

    def predict_fn(data, model):
        if data[0][0] == 1:
            raise errors.GenericInferenceToolkitError(403, "you may not")
        raise FooUserError(409, "try again later")
"""


def test_toolkit_errors_raised_by_a_script_keep_their_status(tmp_path, serve):
    import sagemaker_inference

    server = serve(model_dir(tmp_path, TOOLKIT_ERRORS), framework="model")
    assert "sagemaker_inference" in sagemaker_inference.__file__  # the real toolkit, as requirements.txt installs it
    r = server.invoke("1")
    assert (r.status_code, r.json()) == (403, {"error": "GenericInferenceToolkitError", "message": "you may not"})
    r = server.invoke("2")
    assert (r.status_code, r.json()) == (409, {"error": "FooUserError", "message": "try again later"})


def test_submit_directory_under_opt_ml_model_means_the_model_directorys_code(tmp_path, serve):
    """What the SDK sets for a network-isolated model, with the model directory elsewhere."""
    server = serve(model_dir(tmp_path, DOUBLER, name="entry.py"), framework="model", env={
        "SAGEMAKER_PROGRAM": "entry.py", "SAGEMAKER_SUBMIT_DIRECTORY": "/opt/ml/model/code"})
    assert server.invoke("1,2").json() == [[2.0, 4.0]]
