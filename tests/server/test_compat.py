"""Our stand-in for sagemaker_inference gives what the real toolkit gives."""

import importlib.util
import json
import sys

import numpy as np
import pytest

from serving.compat import FOLDER
from serving.errors import ServingError, container_response, from_script

real_encoder = pytest.importorskip("sagemaker_inference.encoder")
real_decoder = pytest.importorskip("sagemaker_inference.decoder")


def stand_in(module: str):
    """Import serving/compat/sagemaker_inference/<module>.py under another name."""
    name = "_standin_sagemaker_inference"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, f"{FOLDER}/sagemaker_inference/__init__.py",
                                                      submodule_search_locations=[f"{FOLDER}/sagemaker_inference"])
        package = importlib.util.module_from_spec(spec)
        sys.modules[name] = package
        spec.loader.exec_module(package)
    return importlib.import_module(f"{name}.{module}")


ARRAYS = [np.array([[1.5, 2.0], [3.0, -4.25]]), np.array([1.0, 2.5, 3.0]), [[1, 2], [3, 4]], np.array([["a", "b"]])]


@pytest.mark.parametrize("content_type", ["text/csv", "application/json", "application/x-npy"])
@pytest.mark.parametrize("array", ARRAYS, ids=["2d", "1d", "lists", "strings"])
def test_encode_matches_the_toolkit(array, content_type):
    assert stand_in("encoder").encode(array, content_type) == real_encoder.encode(array, content_type)


@pytest.mark.parametrize("body, content_type", [("1,2\n3,4", "text/csv"), ("[[1, 2], [3, 4]]", "application/json")])
def test_decode_matches_the_toolkit(body, content_type):
    np.testing.assert_array_equal(stand_in("decoder").decode(body, content_type), real_decoder.decode(body, content_type))


def test_unsupported_type_is_a_415_here():
    with pytest.raises(ServingError) as err:
        stand_in("encoder").encode([1], "image/png")
    assert err.value.status == 415


def test_npz_decodes_to_the_sparse_matrix_the_toolkit_gives():
    import io

    import scipy.sparse

    matrix = scipy.sparse.csr_matrix(np.array([[0.0, 1.5, 0.0], [2.0, 0.0, 0.0]]))
    buffer = io.BytesIO()
    scipy.sparse.save_npz(buffer, matrix)
    ours = stand_in("decoder").decode(buffer.getvalue(), "application/x-npz")
    theirs = real_decoder.decode(buffer.getvalue(), "application/x-npz")
    assert scipy.sparse.issparse(ours) and type(ours) is type(theirs)
    np.testing.assert_array_equal(ours.toarray(), theirs.toarray())


real_errors = pytest.importorskip("sagemaker_inference.errors")


class FooUserError(real_errors.BaseInferenceToolkitError):
    """The toolkit's own test pattern: the status set, ``__init__`` of the base never called."""

    def __init__(self, status_code, message):
        self.status_code = status_code
        self.message = message
        self.phrase = "Foo"


@pytest.mark.parametrize("make", [
    lambda module: module.GenericInferenceToolkitError(403, "not for you"),
    lambda module: module.BaseInferenceToolkitError(403, "not for you", "Forbidden"),
], ids=["generic", "base"])
@pytest.mark.parametrize("module", ["stand-in", "toolkit"])
def test_toolkit_errors_keep_their_status_and_message(module, make):
    errors = stand_in("errors") if module == "stand-in" else real_errors
    status, headers, body = container_response(from_script(make(errors), "predict_fn"))
    assert (status, json.loads(body)["message"]) == (403, "not for you")


def test_a_toolkit_error_that_never_called_init_keeps_its_status():
    status, _, body = container_response(from_script(FooUserError(403, "no access"), "predict_fn"))
    assert (status, json.loads(body)) == (403, {"error": "FooUserError", "message": "no access"})
