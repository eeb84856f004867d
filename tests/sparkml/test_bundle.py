"""Reading bundles: attribute decoding, zip and directory forms, refusals at start-up."""

from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest

from serving.errors import ConfigurationError
from serving.frameworks.sparkml.bundle import decode_value, load_bundle
from serving.frameworks.sparkml.frame import Frame


def test_zero_values_written_as_empty_objects_decode_to_none():
    assert decode_value({}) is None


def test_null_inside_a_double_list_is_nan():
    splits = decode_value({"double": [None, 1000.0, 10000.0, None], "type": "list"})
    assert np.isnan(splits[0]) and splits[1:3] == [1000.0, 10000.0] and np.isnan(splits[3])


def test_matrices_are_read_column_major():
    value = {"double": [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], "type": "tensor",
             "shape": {"dimensions": [{"size": 2, "name": ""}, {"size": 3, "name": ""}]}}
    assert decode_value(value).tolist() == [[1.0, 3.0, 5.0], [2.0, 4.0, 6.0]]


def test_a_list_of_tensors_without_type_keys_decodes_to_arrays():
    value = {"tensor": [{"double": [1.0, 2.0], "shape": {"dimensions": [{"size": 2, "name": ""}]}}], "type": "list"}
    assert [v.tolist() for v in decode_value(value)] == [[1.0, 2.0]]


def test_an_empty_list_in_either_writer_form_is_empty():
    assert decode_value({"type": "list"}) == [] and decode_value({"string": [], "type": "list"}) == []


def write_bundle(path, root_model, root_node, fmt="json", extra=None):
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("bundle.json", json.dumps({"uid": "u", "name": "root", "format": fmt, "version": "0.20.0",
                                              "timestamp": "2024-01-01T00:00:00"}))
        z.writestr("root/model.json", json.dumps(root_model))
        z.writestr("root/node.json", json.dumps(root_node))
        for name, text in (extra or {}).items():
            z.writestr(name, text)
    return path


def test_a_protobuf_bundle_is_refused_with_the_reason(tmp_path):
    path = write_bundle(tmp_path / "pb.zip", {}, {}, fmt="protobuf")
    with pytest.raises(ConfigurationError, match="'protobuf'-format MLeap bundle; this runtime reads JSON-format"):
        load_bundle(path)


def test_an_unsupported_op_fails_at_load_naming_it(tmp_path):
    path = write_bundle(tmp_path / "x.zip", {"op": "xgboost_regression", "attributes": {}},
                        {"name": "xgb", "shape": {"inputs": [], "outputs": []}})
    with pytest.raises(ConfigurationError, match="the MLeap op 'xgboost_regression' \\(node 'xgb'\\) is not supported"):
        load_bundle(path)


def test_only_the_nodes_a_pipeline_lists_are_read(tmp_path):
    pipeline = {"op": "pipeline", "attributes": {"nodes": {"string": ["tok"], "type": "list"}}}
    stale = {"root/old.node/model.json": '{"op": "no_such_op", "attributes": {}}',
             "root/old.node/node.json": '{"name": "old", "shape": {}}',
             "root/tok.node/model.json": '{"op": "tokenizer", "attributes": {}}',
             "root/tok.node/node.json": json.dumps({"name": "tok", "shape": {
                 "inputs": [{"port": "input", "name": "text"}], "outputs": [{"port": "output", "name": "words"}]}})}
    bundle = load_bundle(write_bundle(tmp_path / "p.zip", pipeline, {"name": "root", "shape": {}}, extra=stale))
    frame = Frame({"text": np.array(["Hello  World"], dtype=object)})
    bundle.root.transform(frame)
    assert frame["words"][0] == ["hello", "", "world"]


def test_a_zip_made_from_a_parent_folder_is_found_below_the_root(tmp_path):
    source = write_bundle(tmp_path / "src.zip", {"op": "tokenizer", "attributes": {}}, {"name": "tok", "shape": {
        "inputs": [{"port": "input", "name": "t"}], "outputs": [{"port": "output", "name": "w"}]}})
    nested = tmp_path / "nested.zip"
    with zipfile.ZipFile(source) as src, zipfile.ZipFile(nested, "w") as out:
        for name in src.namelist():
            out.writestr(f"model/{name}", src.read(name))
    assert load_bundle(nested).root.ports.outputs == {"output": "w"}


def test_the_directory_form_loads(mleap_fixtures):
    bundle = load_bundle(mleap_fixtures / "aws_sagemaker-sparkml-serving-container/src/test/resources/"
                         "com/amazonaws/sagemaker/configuration/model")
    assert (bundle.version, bundle.root.stages) == ("0.10.0-SNAPSHOT", [])
