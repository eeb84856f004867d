"""Splitting, batching, the JSONPath subset and joins, on hand-written bytes."""

from __future__ import annotations

import pytest

from serving.errors import BadRequest
from serving.transform import jsonpath
from serving.transform.dataproc import DataProcessing
from serving.transform.options import TransformOptions, ValidationError
from serving.codecs.recordio import write_record as recordio_frame
from serving.transform.records import Batch, RecordTooLarge, batches, split


def payloads(records, strategy, limit):
    return [records.payload(b.first, b.stop) for b in batches(records, strategy, limit)]


# -- splitting ------------------------------------------------------------------------------

def test_none_split_keeps_the_whole_file_as_one_record():
    records = split(b"a\nb\n", "None")
    assert [records[i] for i in range(len(records))] == [b"a\nb\n"]


def test_line_split_handles_crlf_blank_lines_and_a_missing_final_newline():
    records = split(b"a,1\r\n\nbb,2\n\ncc,3", "Line")
    assert [records[i] for i in range(len(records))] == [b"a,1", b"bb,2", b"cc,3"]


def test_recordio_frame_is_mxnet_framing():
    """Pinned bytes: magic 0xced7230a and the length, little-endian, then padding to 4 bytes."""
    assert recordio_frame(b"abc") == b"\x0a\x23\xd7\xce\x03\x00\x00\x00abc\x00"


def test_recordio_split_reads_framed_records():
    data = recordio_frame(b"abc") + recordio_frame(b"defgh")
    records = split(data, "RecordIO")
    assert [records[i] for i in range(len(records))] == [recordio_frame(b"abc")[:11], recordio_frame(b"defgh")[:13]]


def test_recordio_garbage_is_a_clear_error():
    with pytest.raises(BadRequest, match="RecordIO record 1 at byte 0 does not start with the magic number 0xced7230a"):
        split(b"not recordio at all", "RecordIO")


# -- batching -------------------------------------------------------------------------------

def test_single_record_sends_one_line_per_request():
    assert payloads(split(b"a\nbb\nccc\n", "Line"), "SingleRecord", 100) == [b"a", b"bb", b"ccc"]


def test_multi_record_packs_lines_up_to_the_limit():
    records = split(b"aaa\nbbb\nccc\nddd\n", "Line")
    # 3 + 1 + 3 = 7 bytes fit in 8; a third record would make 11
    assert payloads(records, "MultiRecord", 8) == [b"aaa\nbbb", b"ccc\nddd"]
    assert payloads(records, "MultiRecord", 15) == [b"aaa\nbbb\nccc\nddd"]


def test_multi_record_joins_around_blank_lines():
    assert payloads(split(b"a\n\nb\n", "Line"), "MultiRecord", 100) == [b"a\nb"]


def test_multi_record_without_limit_sends_the_whole_file():
    records = split(b"a\nb\nc\n", "Line")
    assert batches(records, "MultiRecord", None) == [Batch(0, 3)]


def test_a_record_over_the_limit_is_refused_naming_it():
    with pytest.raises(RecordTooLarge) as err:
        batches(split(b"ok\n" + b"x" * 20 + b"\n", "Line"), "SingleRecord", 10)
    assert err.value.batch == Batch(1, 2)
    assert str(err.value).startswith("record 2 is 20 bytes, larger than MaxPayloadInMB")


def test_recordio_single_record_strips_padding_multi_record_keeps_it():
    data = recordio_frame(b"abc") + recordio_frame(b"defgh")
    records = split(data, "RecordIO")
    assert payloads(records, "SingleRecord", 100) == [recordio_frame(b"abc")[:11], recordio_frame(b"defgh")[:13]]
    assert payloads(records, "MultiRecord", 100) == [data]


# -- JSONPath -------------------------------------------------------------------------------

ROW = ["id7", "M", 0.45, 0.36, 0.09]


@pytest.mark.parametrize("path,expected", [
    ("$", ROW),
    ("$[1:]", ["M", 0.45, 0.36, 0.09]),
    ("$[1:3]", ["M", 0.45, 0.36]),  # inclusive: second through fourth
    ("$[:1]", ["id7", "M"]),
    ("$[0,-1]", ["id7", 0.09]),
    ("$[-1]", 0.09),
    ("$[0,3:]", ["id7", 0.36, 0.09]),
    ("$[1:-2]", ["M", 0.45, 0.36]),
    ("$[*]", ROW),
])
def test_jsonpath_on_arrays(path, expected):
    assert jsonpath.parse(path).apply(ROW) == expected


@pytest.mark.parametrize("path,expected", [
    ("$.features", [1, 2]),
    ("$.features[1]", 2),
    ("$['id','SageMakerOutput']", {"id": 3, "SageMakerOutput": 9.5}),
    ("$['id']", 3),
    ("$.*", [3, [1, 2], 9.5]),
])
def test_jsonpath_on_objects(path, expected):
    record = {"id": 3, "features": [1, 2], "SageMakerOutput": 9.5}
    assert jsonpath.parse(path).apply(record) == expected


def test_jsonpath_index_outside_the_record_is_an_error():
    with pytest.raises(BadRequest, match="'\\$\\[0,7\\]': index 7 is outside the record, which has 5 values"):
        jsonpath.parse("$[0,7]").apply(ROW)


def test_jsonpath_missing_key_names_the_keys():
    with pytest.raises(BadRequest, match="the record has no key label \\(keys: id\\)"):
        jsonpath.parse("$.label").apply({"id": 1})


@pytest.mark.parametrize("path", ["features", "$[a:b]", "$..x", "$[?(@.a)]"])
def test_jsonpath_outside_the_subset_is_refused(path):
    with pytest.raises(ValidationError):
        jsonpath.parse(path)


# -- joins and output filters ----------------------------------------------------------------

def process(options, source_bytes, body, split_type="Line"):
    dp = DataProcessing.from_options(TransformOptions.build(**options))
    source = split(source_bytes, split_type)
    return dp.process_output(source, Batch(0, len(source)), body, options.get("Accept", "text/csv"))


CSV_JOIN = dict(ContentType="text/csv", Accept="text/csv", SplitType="Line", AssembleWith="Line", JoinSource="Input")


def test_csv_join_appends_the_output_columns():
    assert process(CSV_JOIN, b"1,2,3\n4,5,6\n", b"7\n8\n") == [b"1,2,3,7", b"4,5,6,8"]


def test_csv_join_then_output_filter_keeps_id_and_prediction():
    options = {**CSV_JOIN, "OutputFilter": "$[0,-1]"}
    assert process(options, b"a,2,3\nb,5,6\n", b"0.5\n0.25\n") == [b"a,0.5", b"b,0.25"]


def test_csv_join_keeps_quoted_fields_quoted():
    assert process(CSV_JOIN, b'"x, y",2\n', b"7\n") == [b'"x, y",2,7']


def test_jsonlines_join_adds_sagemaker_output_to_objects():
    options = dict(CSV_JOIN, ContentType="application/jsonlines", Accept="application/jsonlines")
    out = process(options, b'{"id":1,"x":[1,2]}\n[3,4]\n', b"[0.5]\n0.25\n")
    assert out == [b'{"id":1,"x":[1,2],"SageMakerOutput":[0.5]}', b'{"SageMakerInput":[3,4],"SageMakerOutput":0.25}']


def test_json_join_of_a_whole_document():
    options = dict(ContentType="application/json", Accept="application/json", JoinSource="Input",
                   OutputFilter="$['id','SageMakerOutput']")
    out = process(options, b'{"id":"a","features":[1,2]}', b"[[9.5]]", split_type="None")
    assert out == [b'{"id":"a","SageMakerOutput":[[9.5]]}']


def test_join_refuses_an_input_that_already_has_sagemaker_output():
    options = dict(CSV_JOIN, ContentType="application/jsonlines", Accept="application/jsonlines")
    with pytest.raises(BadRequest, match="already has a 'SageMakerOutput' key"):
        process(options, b'{"SageMakerOutput":1}\n', b"2\n")


def test_output_filter_past_the_joined_record_is_an_error():
    with pytest.raises(BadRequest, match="index 5 is outside the record, which has 4 values"):
        process({**CSV_JOIN, "OutputFilter": "$[5]"}, b"1,2,3\n", b"7\n")


def test_join_refuses_a_response_with_the_wrong_number_of_rows():
    with pytest.raises(BadRequest, match="returned 1 output row\\(s\\) for 2 input row\\(s\\)"):
        process(CSV_JOIN, b"1\n2\n", b"7\n")


def test_input_filter_rewrites_each_csv_record():
    dp = DataProcessing.from_options(TransformOptions.build(ContentType="text/csv", SplitType="Line", InputFilter="$[1:]"))
    sent = dp.filter_input(split(b"id1,0.5,0.25\nid2,1,2\n", "Line"))
    assert [sent[i] for i in range(len(sent))] == [b"0.5,0.25", b"1,2"]
