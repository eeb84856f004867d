"""Options: SageMaker's names, values, defaults, precedence and refusals."""

from __future__ import annotations

import pytest

from serving.transform.options import TransformOptions, ValidationError


def build(**values):
    return TransformOptions.build(**values)


# -- what SageMaker allows ----------------------------------------------------------------

@pytest.mark.parametrize("split", ["None", "Line", "RecordIO"])
@pytest.mark.parametrize("assemble", ["None", "Line"])
@pytest.mark.parametrize("compression", ["None", "Gzip"])
def test_every_split_assembly_and_compression_is_accepted(split, assemble, compression):
    options = build(SplitType=split, AssembleWith=assemble, CompressionType=compression)
    assert (options.SplitType, options.AssembleWith, options.CompressionType) == (split, assemble, compression)


@pytest.mark.parametrize("split", ["Line", "RecordIO"])
@pytest.mark.parametrize("strategy", ["SingleRecord", "MultiRecord"])
def test_batch_strategy_with_a_split_type(split, strategy):
    assert build(SplitType=split, BatchStrategy=strategy).BatchStrategy == strategy


@pytest.mark.parametrize("media", ["text/csv", "application/json", "application/jsonlines"])
def test_join_with_matching_accept_and_assembly(media):
    split = "Line" if media != "application/json" else "None"
    options = build(ContentType=media, Accept=media, SplitType=split, AssembleWith=split, JoinSource="Input",
                    InputFilter="$", OutputFilter="$")
    assert options.JoinSource == "Input"


def test_max_payload_100_with_one_concurrent_transform_is_the_limit():
    assert build(MaxPayloadInMB=100, MaxConcurrentTransforms=1).MaxPayloadInMB == 100
    assert build(MaxPayloadInMB=0, MaxConcurrentTransforms=64).max_payload_bytes is None


# -- what SageMaker refuses -----------------------------------------------------------------

def test_max_payload_over_100_is_refused_with_the_aws_message():
    with pytest.raises(ValidationError) as err:
        build(MaxPayloadInMB=101)
    assert str(err.value) == ("1 validation error detected: Value '101' at 'maxPayloadInMB' failed to satisfy "
                              "constraint: Member must have value less than or equal to 100")


def test_concurrency_times_payload_over_100_is_refused():
    with pytest.raises(ValidationError) as err:
        build(MaxPayloadInMB=20, MaxConcurrentTransforms=6)
    assert str(err.value) == ("MaxConcurrentTransforms (6) times MaxPayloadInMB (20) is 120 MB; "
                              "it must not exceed 100 MB: lower one of them")


def test_batch_strategy_without_split_type_is_refused():
    with pytest.raises(ValidationError) as err:
        build(BatchStrategy="MultiRecord")
    assert "BatchStrategy MultiRecord requires SplitType Line or RecordIO" in str(err.value)


def test_unknown_split_type_names_the_allowed_values():
    with pytest.raises(ValidationError) as err:
        build(SplitType="line")
    assert str(err.value) == ("1 validation error detected: Value 'line' at 'transformInput.splitType' failed to "
                              "satisfy constraint: Member must satisfy enum value set: [None, Line, RecordIO, TFRecord] "
                              "(SplitType)")


def test_tfrecord_is_refused_as_in_local_mode():
    with pytest.raises(ValidationError, match="SplitType TFRecord is not supported here"):
        build(SplitType="TFRecord")


@pytest.mark.parametrize("name,value,message", [
    ("InvocationsMaxRetries", 4, "at 'modelClientConfig.invocationsMaxRetries' failed to satisfy constraint: "
                                 "Member must have value less than or equal to 3"),
    ("InvocationsTimeoutInSeconds", 0, "at 'modelClientConfig.invocationsTimeoutInSeconds' failed to satisfy "
                                       "constraint: Member must have value greater than or equal to 1"),
    ("InvocationsTimeoutInSeconds", 3601, "Member must have value less than or equal to 3600"),
])
def test_model_client_limits(name, value, message):
    with pytest.raises(ValidationError) as err:
        build(**{name: value})
    assert message in str(err.value)


def test_filter_longer_than_63_characters_is_refused():
    path = "$['" + "a" * 70 + "']"
    with pytest.raises(ValidationError, match="Member must have length less than or equal to 63"):
        build(ContentType="application/json", InputFilter=path)


def test_join_needs_accept_equal_to_content_type():
    with pytest.raises(ValidationError) as err:
        build(ContentType="text/csv", Accept="application/json", SplitType="Line", AssembleWith="Line", JoinSource="Input")
    assert str(err.value) == ("JoinSource Input needs Accept to equal ContentType (both text/csv); "
                              "got Accept application/json")


def test_join_needs_assemble_with_equal_to_split_type():
    with pytest.raises(ValidationError, match="JoinSource Input needs AssembleWith to equal SplitType; "
                                              "got SplitType Line and AssembleWith None"):
        build(ContentType="text/csv", Accept="text/csv", SplitType="Line", JoinSource="Input")


def test_csv_join_needs_line_split():
    with pytest.raises(ValidationError, match="JoinSource Input with text/csv needs SplitType Line and AssembleWith Line"):
        build(ContentType="text/csv", Accept="text/csv", JoinSource="Input")


def test_filters_need_a_filterable_content_type():
    with pytest.raises(ValidationError) as err:
        build(ContentType="application/x-npy", InputFilter="$[1:]")
    assert str(err.value) == ("InputFilter and JoinSource Input can only read text/csv, application/json, "
                              "application/jsonlines: set ContentType to one of them (got application/x-npy)")


def test_more_than_16_environment_entries_are_refused():
    with pytest.raises(ValidationError, match="Map value must have length less than or equal to 16"):
        build(Environment={f"K{i}": "v" for i in range(17)})


def test_unknown_option_names_the_known_ones():
    with pytest.raises(ValidationError, match="unknown transform option\\(s\\): split_type; the options are: Accept"):
        build(split_type="Line")


# -- precedence: job > /execution-parameters > defaults -----------------------------------

def test_unset_values_come_from_execution_parameters():
    params = {"MaxConcurrentTransforms": 4, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 3}
    options = build(SplitType="Line").resolve(params)
    assert (options.MaxConcurrentTransforms, options.BatchStrategy, options.MaxPayloadInMB) == (4, "SingleRecord", 3)


def test_job_values_win_over_execution_parameters():
    params = {"MaxConcurrentTransforms": 4, "BatchStrategy": "SINGLE_RECORD", "MaxPayloadInMB": 3}
    options = build(SplitType="Line", BatchStrategy="MultiRecord", MaxPayloadInMB=1, MaxConcurrentTransforms=2).resolve(params)
    assert (options.MaxConcurrentTransforms, options.BatchStrategy, options.MaxPayloadInMB) == (2, "MultiRecord", 1)


def test_defaults_without_execution_parameters():
    options = build(SplitType="Line").resolve(None)
    assert (options.MaxConcurrentTransforms, options.BatchStrategy, options.MaxPayloadInMB) == (1, "MultiRecord", 6)


def test_zero_concurrency_means_ask_the_container():
    options = build(SplitType="Line", MaxConcurrentTransforms=0).resolve({"MaxConcurrentTransforms": 3})
    assert options.MaxConcurrentTransforms == 3


def test_container_concurrency_is_lowered_to_stay_within_100_mb():
    options = build(SplitType="Line", MaxPayloadInMB=30).resolve({"MaxConcurrentTransforms": 8})
    assert options.MaxConcurrentTransforms == 3


def test_container_environment_has_batch_and_only_the_values_the_job_sets():
    env = build(SplitType="Line", MaxPayloadInMB=2, Environment={"A": "1"}).container_environment()
    assert env == {"SAGEMAKER_BATCH": "true", "SAGEMAKER_MAX_PAYLOAD_IN_MB": "2", "A": "1"}
    env = build(SplitType="Line", BatchStrategy="SingleRecord", MaxConcurrentTransforms=2).container_environment()
    assert env == {"SAGEMAKER_BATCH": "true", "SAGEMAKER_BATCH_STRATEGY": "SINGLE_RECORD",
                   "SAGEMAKER_MAX_CONCURRENT_TRANSFORMS": "2"}
