"""The sparkml container's request handling, through the same Transformer the server runs."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from serving.errors import BadRequest, ConfigurationError, UnsupportedMediaType
from serving.frameworks.sparkml.export import write_bundle
from serving.frameworks.sparkml.handler import SparkMLFramework
from serving.frameworks.sparkml.ops.base import Ports
from serving.frameworks.sparkml.ops.indexing import StringIndexer
from serving.handlers.transformer import Transformer
from serving.settings import Settings

DEMO = "combust_mleap/mleap-spring-boot/src/test/resources/demo.zip"
AIRBNB = "combust_mleap/mleap-benchmark/src/main/resources/models/airbnb.model.rf.zip"
DEMO_PREDICTION = -67.78953193834998  # upstream's value for a=44.5, c=22.1, d=98.2
AIRBNB_ROW = "2.0,3.0,50.0,30.0,2.0,56.0,1250.0,90.0,Entire home/apt,1.0,strict,1.0,NY"


def container(model_dir, **env) -> Transformer:
    transformer = Transformer(SparkMLFramework(Settings.from_env(env)))
    transformer.load(str(model_dir))
    return transformer


@pytest.fixture
def demo_dir(mleap_fixtures, tmp_path):
    shutil.copy(mleap_fixtures / DEMO, tmp_path)
    return tmp_path


@pytest.fixture
def demo(demo_dir):
    return container(demo_dir)


def test_csv_with_many_rows_answers_one_line_per_row_as_csv_by_default(demo):
    result = demo.invoke(b"44.5,22.1,98.2\n44.5,22.1,98.2\n", "text/csv", None)
    assert (result.status, result.content_type) == (200, "text/csv")
    assert result.body == f"{DEMO_PREDICTION!r}\n{DEMO_PREDICTION!r}\n".encode()


def test_json_with_one_row(demo):
    result = demo.invoke(json.dumps({"data": [44.5, 22.1, 98.2]}).encode(), "application/json", "application/json")
    assert json.loads(result.body) == [DEMO_PREDICTION]


def test_json_with_many_rows(demo):
    body = json.dumps({"data": [[44.5, 22.1, 98.2], [44.5, 22.1, 98.2]]}).encode()
    assert json.loads(demo.invoke(body, "application/json", "application/json").body) == [DEMO_PREDICTION] * 2


def test_jsonlines_rows_are_answered_in_order(demo):
    body = b'{"data": [44.5, 22.1, 98.2]}\n{"data": [[44.5, 22.1, 98.2], [44.5, 22.1, 98.2]]}\n'
    result = demo.invoke(body, "application/jsonlines", "application/jsonlines")
    assert result.body.decode().splitlines() == [repr(DEMO_PREDICTION)] * 3


VECTOR_SCHEMA = {"input": [{"name": "demo:a", "type": "double"}, {"name": "demo:c", "type": "double"},
                           {"name": "demo:d", "type": "double"}],
                 "output": {"name": "unscaled_continuous_features", "type": "double", "struct": "vector"}}


def test_schema_from_the_environment_chooses_a_vector_output_written_comma_joined(demo_dir):
    served = container(demo_dir, SAGEMAKER_SPARKML_SCHEMA=json.dumps(VECTOR_SCHEMA))
    assert served.invoke(b"44.5,22.1,98.2\n1,2,3\n", "text/csv", None).body == b"44.5,22.1,98.2\n1.0,2.0,3.0\n"


def test_vector_output_as_jsonlines_features_and_as_text_source(demo_dir):
    (demo_dir / "schema.json").write_text(json.dumps(VECTOR_SCHEMA))
    served = container(demo_dir)
    standard = served.invoke(b"44.5,22.1,98.2\n", "text/csv", "application/jsonlines")
    text = served.invoke(b"44.5,22.1,98.2\n", "text/csv", "application/jsonlines;data=text")
    assert standard.body == b'{"features": [44.5, 22.1, 98.2]}\n'
    # the AWS container answers application/jsonlines for data=text too; a downstream AWS container reads it
    assert (text.body, text.content_type) == (b'{"source": "44.5 22.1 98.2"}\n', "application/jsonlines")


def test_a_schema_in_the_request_wins(demo):
    body = json.dumps({"schema": VECTOR_SCHEMA, "data": [1, 2, 3]}).encode()
    assert demo.invoke(body, "application/json", "text/csv").body == b"1.0,2.0,3.0\n"


def test_wrong_column_count_is_a_bad_request_naming_the_row(demo):
    with pytest.raises(BadRequest, match="row 2 has 2 values; the schema has 3 columns: demo:a, demo:c, demo:d"):
        demo.invoke(b"1,2,3\n1,2\n", "text/csv", None)


def test_a_value_of_the_wrong_type_names_column_and_row(demo):
    with pytest.raises(BadRequest, match="column 'demo:c', row 2: 'abc' is not a number \\(the column is double\\)"):
        demo.invoke(b"1,2,3\n1,abc,3\n", "text/csv", None)


def test_an_int_column_refuses_a_fraction(demo_dir):
    schema = dict(VECTOR_SCHEMA, input=[dict(c, type="int") for c in VECTOR_SCHEMA["input"]])
    served = container(demo_dir, SAGEMAKER_SPARKML_SCHEMA=json.dumps(schema))
    with pytest.raises(BadRequest, match="column 'demo:a', row 1: '1.5' is not a int"):
        served.invoke(b"1.5,2,3\n", "text/csv", None)


def test_an_unseen_category_is_a_bad_request_naming_column_and_row(mleap_fixtures, tmp_path):
    shutil.copy(mleap_fixtures / AIRBNB, tmp_path)
    served = container(tmp_path)
    ok = served.invoke(f"{AIRBNB_ROW}\n".encode(), "text/csv", None)
    assert ok.body == b"218.2767196535019\n"
    with pytest.raises(BadRequest, match="column 'state', row 2: 'Atlantis' is not a label this StringIndexer"):
        served.invoke(f"{AIRBNB_ROW}\n{AIRBNB_ROW.replace('NY', 'Atlantis')}\n".encode(), "text/csv", None)


def skip_indexer_dir(tmp_path):
    op = StringIndexer("idx", Ports({"input": "color"}, {"output": "color_index"}), [["red", "green"]], "skip")
    write_bundle(op, tmp_path / "model" / "indexer.zip")
    return tmp_path / "model"


def test_a_row_spark_would_skip_gets_an_empty_record_in_its_place(tmp_path):
    served = container(skip_indexer_dir(tmp_path))
    assert served.invoke(b"green\nblue\nred\n", "text/csv", None).body == b"1.0\n\n0.0\n"
    answer = served.invoke(b'{"data": [["green"], ["blue"]]}', "application/json", "application/json")
    assert json.loads(answer.body) == [1.0, None]


def test_an_unsupported_content_type_is_415(demo):
    with pytest.raises(UnsupportedMediaType, match="send one of: text/csv, application/json, application/jsonlines"):
        demo.invoke(b"x", "application/x-npy", None)


def test_a_schema_missing_a_model_input_fails_at_start(demo_dir):
    schema = dict(VECTOR_SCHEMA, input=VECTOR_SCHEMA["input"][:2])
    with pytest.raises(ConfigurationError, match="the schema has no input column 'demo:d'"):
        container(demo_dir, SAGEMAKER_SPARKML_SCHEMA=json.dumps(schema))


def test_the_serving_path_never_imports_pyspark(mleap_fixtures):
    code = (f"import sys; from serving.frameworks.sparkml.model import load_model; "
            f"from serving.frameworks.sparkml import handler; load_model({str(mleap_fixtures / AIRBNB)!r}); "
            "print('pyspark' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=".")
    assert out.stdout.strip() == "False"


def test_a_real_server_answers_csv_rows_and_keeps_serving_after_a_400(serve, mleap_fixtures, tmp_path):
    shutil.copy(mleap_fixtures / AIRBNB, tmp_path)
    server = serve(tmp_path, framework="sparkml")
    good = server.invoke(f"{AIRBNB_ROW}\n{AIRBNB_ROW}\n")
    bad = server.invoke(f"{AIRBNB_ROW.replace('NY', 'Atlantis')}\n")
    assert (good.status_code, good.text, good.headers["Content-Type"]) == \
        (200, "218.2767196535019\n218.2767196535019\n", "text/csv")
    assert bad.status_code == 400 and "column 'state', row 1: 'Atlantis'" in bad.text
    assert server.get("/ping").status_code == 200


def test_a_jsonlines_schema_on_the_first_line_holds_for_the_lines_after_it(demo):
    body = (json.dumps({"schema": VECTOR_SCHEMA, "data": [1, 2, 3]}) + '\n{"data": [4, 5, 6]}\n').encode()
    assert demo.invoke(body, "application/jsonlines", "text/csv").body == b"1.0,2.0,3.0\n4.0,5.0,6.0\n"


def test_a_line_that_is_not_json_is_a_bad_request_naming_the_line(demo):
    with pytest.raises(BadRequest, match=r"the JSON Lines \(line 2\) body is not valid JSON"):
        demo.invoke(b'{"data": [44.5, 22.1, 98.2]}\n{"data": [1,\n', "application/jsonlines", None)


@pytest.mark.parametrize("body, content_type", [(b"", "text/csv"), (b"\n", "text/csv"), (b"", "application/jsonlines"),
                                                (b'{"data": []}', "application/json")])
def test_a_body_with_no_rows_is_answered_204_with_no_body_even_with_a_vector_input(demo_dir, body, content_type):
    (demo_dir / "schema.json").write_text(json.dumps(VECTOR_SCHEMA))
    result = container(demo_dir).invoke(body, content_type, None)
    assert (result.status, result.body) == (204, b"")


def test_an_empty_body_through_a_real_server_is_204_and_the_server_keeps_serving(serve, demo_dir):
    (demo_dir / "schema.json").write_text(json.dumps(VECTOR_SCHEMA))
    server = serve(demo_dir, framework="sparkml")
    empty = server.invoke(b"")
    assert (empty.status_code, empty.content, empty.headers.get("Content-Type")) == (204, b"", None)
    assert server.invoke(b"1,2,3\n").text == "1.0,2.0,3.0\n"


AWS_TEST_MODEL = "aws_sagemaker-sparkml-serving-container/src/test/resources/com/amazonaws/sagemaker/configuration/model"


def test_a_model_that_implies_no_schema_starts_and_takes_the_schema_per_request(serve, mleap_fixtures, tmp_path):
    """The AWS container's own test bundle: no stages, so the schema can only come with the request."""
    shutil.copytree(mleap_fixtures / AWS_TEST_MODEL, tmp_path / "model")
    server = serve(tmp_path / "model", framework="sparkml")
    assert server.get("/ping").status_code == 200
    schema = {"input": [{"name": "x", "type": "double"}], "output": {"name": "x", "type": "double"}}
    r = server.invoke(json.dumps({"schema": schema, "data": [1.5]}), content_type="application/json")
    assert (r.status_code, r.text) == (200, "1.5\n")
    r = server.invoke("1.5\n")
    assert r.status_code == 400
    assert r.json()["message"].startswith("Input schema has to be provided either via environment variable or via "
                                          "the request: set SAGEMAKER_SPARKML_SCHEMA")


def test_a_schema_column_without_a_type_fails_at_start_naming_it(demo_dir):
    schema = dict(VECTOR_SCHEMA, input=[{"name": "demo:a"}, *VECTOR_SCHEMA["input"][1:]])
    with pytest.raises(ConfigurationError, match="column 'demo:a' has no 'type'; give one of boolean, byte"):
        container(demo_dir, SAGEMAKER_SPARKML_SCHEMA=json.dumps(schema))


def test_a_request_schema_column_without_a_type_is_a_bad_request(demo):
    schema = dict(VECTOR_SCHEMA, output={"name": "demo:a"})
    with pytest.raises(BadRequest, match="column 'demo:a' has no 'type'"):
        demo.invoke(json.dumps({"schema": schema, "data": [1, 2, 3]}).encode(), "application/json", None)


def test_an_empty_body_for_a_vector_input_is_204_not_a_crash(tmp_path):
    """A model whose input column is a vector: the case that crashed with StopIteration before."""
    from serving.frameworks.sparkml.ops.scaling import StandardScaler

    op = StandardScaler("scale", Ports({"input": "vec"}, {"output": "scaled"}), mean=[1.0, 2.0], std=[2.0, 4.0])
    write_bundle(op, tmp_path / "model" / "scaler.zip")
    schema = {"input": [{"name": "vec", "type": "double", "struct": "vector"}],
              "output": {"name": "scaled", "type": "double", "struct": "vector"}}
    served = container(tmp_path / "model", SAGEMAKER_SPARKML_SCHEMA=json.dumps(schema))
    assert served.invoke(b'{"data": [[3.0, 6.0]]}\n', "application/jsonlines", "text/csv").body == b"1.0,1.0\n"
    for body, content_type in ((b"", "text/csv"), (b"\n", "application/jsonlines")):
        result = served.invoke(body, content_type, None)
        assert (result.status, result.body) == (204, b"")
