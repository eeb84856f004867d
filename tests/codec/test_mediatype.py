import pytest

from serving.codecs import ENCODABLE, MediaType, negotiate
from serving.errors import BadRequest, NotAcceptable


def test_parameters_do_not_change_the_type():
    mt = MediaType.parse("Text/CSV; charset=UTF-8")
    assert mt == "text/csv"
    assert mt.params == {"charset": "UTF-8"}
    assert mt.full == "Text/CSV; charset=UTF-8"


def test_parameters_are_kept_as_data():
    mt = MediaType.parse('application/jsonlines;data="text"')
    assert mt == "application/jsonlines"
    assert mt.params == {"data": "text"}


@pytest.mark.parametrize("bad", ["csv", "text/", "/csv", "text/csv; charset"])
def test_malformed_media_type_is_a_bad_request(bad):
    with pytest.raises(BadRequest, match="media type|no value"):
        MediaType.parse(bad)


@pytest.mark.parametrize(
    "accept, expected",
    [
        (None, "application/json"),
        ("", "application/json"),
        ("*/*", "application/json"),
        ("text/csv", "text/csv"),
        ("text/csv; charset=utf-8", "text/csv"),
        ("application/x-npy, text/csv", "application/x-npy"),
        ("text/csv;q=0.5, application/jsonlines", "application/jsonlines"),
        ("image/png, text/csv;q=0.1", "text/csv"),
        ("text/*", "text/csv"),
        ("application/*", "application/json"),
        ("*/*;q=0.1, text/csv", "text/csv"),
        ("text/csv;q=0, */*", "application/json"),
    ],
)
def test_negotiation(accept, expected):
    assert negotiate(accept, ENCODABLE, "application/json") == expected


def test_wildcard_prefers_the_configured_default():
    assert negotiate("*/*", ENCODABLE, "text/csv") == "text/csv"
    assert negotiate("text/*", ENCODABLE, "text/csv") == "text/csv"


def test_nothing_acceptable_names_the_supported_types():
    with pytest.raises(NotAcceptable) as err:
        negotiate("image/png, text/html", ENCODABLE, "application/json")
    assert str(err.value) == (
        "Accept 'image/png, text/html' names no type this model can produce; "
        "supported: text/csv, application/json, application/jsonlines, application/x-npy, "
        "application/x-recordio-protobuf, text/libsvm"
    )


def test_q_value_must_be_a_number():
    with pytest.raises(BadRequest, match="q-value"):
        negotiate("text/csv;q=high", ENCODABLE, "application/json")


def test_user_output_fn_may_be_offered_any_type():
    assert negotiate("application/x-custom", None, "application/json") == "application/x-custom"
