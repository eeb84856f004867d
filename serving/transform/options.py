"""The options of a transform job, under SageMaker's own names, with SageMaker's rules.

A job written for ``CreateTransformJob`` moves here unchanged: the same names
(``SplitType``, ``BatchStrategy``, ...), the same values (``Line``, ``MultiRecord``, ...), the
same defaults and the same refusals. Values the user leaves unset are filled, in order, from
the container's ``/execution-parameters`` and then from SageMaker's defaults
(:meth:`TransformOptions.resolve`).

Messages for single-field limits follow the AWS validation format (``1 validation error
detected: Value '101' at 'maxPayloadInMB' failed to satisfy constraint: ...``); the rules
between fields (a join needs ``Accept`` = ``ContentType``, ...) say what to change.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Mapping

from ..codecs.mediatype import MediaType
from ..errors import BadRequest, ConfigurationError

log = logging.getLogger("serving.transform")

SPLIT_TYPES = ("None", "Line", "RecordIO", "TFRecord")
BATCH_STRATEGIES = ("SingleRecord", "MultiRecord")
ASSEMBLE_WITH = ("None", "Line")
JOIN_SOURCES = ("None", "Input")
COMPRESSION_TYPES = ("None", "Gzip")
#: TransformS3DataSource.S3DataType: what --input names (every object under a prefix, or a manifest of them)
S3_DATA_TYPES = ("ManifestFile", "S3Prefix")
#: the formats SageMaker can filter and join (DataProcessing)
FILTERABLE = ("text/csv", "application/json", "application/jsonlines")
#: /execution-parameters spells the strategy in capitals
STRATEGY_FROM_CONTAINER = {"SINGLE_RECORD": "SingleRecord", "MULTI_RECORD": "MultiRecord"}
STRATEGY_TO_CONTAINER = {v: k for k, v in STRATEGY_FROM_CONTAINER.items()}

DEFAULT_MAX_PAYLOAD_MB = 6
DEFAULT_MAX_CONCURRENT = 1
DEFAULT_BATCH_STRATEGY = "MultiRecord"  # the SDK's local transform default
MAX_FILTER_LENGTH = 63
MAX_ENVIRONMENT = 16


class ValidationError(ConfigurationError):
    """The job's options break one of SageMaker's rules (``ValidationException``)."""


@dataclass(frozen=True)
class TransformOptions:
    ContentType: str | None = None
    SplitType: str = "None"
    CompressionType: str = "None"
    BatchStrategy: str | None = None
    MaxPayloadInMB: int | None = None
    MaxConcurrentTransforms: int | None = None
    Accept: str | None = None
    AssembleWith: str = "None"
    InputFilter: str = "$"
    OutputFilter: str = "$"
    JoinSource: str = "None"
    InvocationsTimeoutInSeconds: int = 600
    InvocationsMaxRetries: int = 3
    Environment: Mapping[str, str] = field(default_factory=dict)
    S3DataType: str = "S3Prefix"

    @classmethod
    def build(cls, **values: Any) -> "TransformOptions":
        """Options from keyword arguments; ``None`` means "not given" (the default applies)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValidationError(
                f"unknown transform option(s): {', '.join(unknown)}; the options are: {', '.join(sorted(known))}"
            )
        options = cls(**{k: v for k, v in values.items() if v is not None})
        options.validate()
        return options

    # -- validation -------------------------------------------------------------------------

    def validate(self) -> None:
        _one_of("SplitType", "transformInput.splitType", self.SplitType, SPLIT_TYPES)
        _one_of("CompressionType", "transformInput.compressionType", self.CompressionType, COMPRESSION_TYPES)
        _one_of("AssembleWith", "transformOutput.assembleWith", self.AssembleWith, ASSEMBLE_WITH)
        _one_of("JoinSource", "dataProcessing.joinSource", self.JoinSource, JOIN_SOURCES)
        if self.BatchStrategy is not None:
            _one_of("BatchStrategy", "batchStrategy", self.BatchStrategy, BATCH_STRATEGIES)
        if self.S3DataType == "AugmentedManifestFile":
            raise ValidationError("S3DataType AugmentedManifestFile is not supported by batch transform (as in "
                                  "SageMaker); use S3Prefix or ManifestFile")
        _one_of("S3DataType", "transformInput.dataSource.s3DataSource.s3DataType", self.S3DataType, S3_DATA_TYPES)
        if self.SplitType == "TFRecord":
            raise ValidationError("SplitType TFRecord is not supported here (as in SageMaker's local mode); use None, Line or RecordIO")
        _in_range("maxPayloadInMB", self.MaxPayloadInMB, 0, 100)
        _in_range("maxConcurrentTransforms", self.MaxConcurrentTransforms, 0, None)
        _in_range("modelClientConfig.invocationsTimeoutInSeconds", self.InvocationsTimeoutInSeconds, 1, 3600)
        _in_range("modelClientConfig.invocationsMaxRetries", self.InvocationsMaxRetries, 0, 3)
        for name, value in (("dataProcessing.inputFilter", self.InputFilter), ("dataProcessing.outputFilter", self.OutputFilter)):
            if len(value) > MAX_FILTER_LENGTH:
                raise ValidationError(
                    f"1 validation error detected: Value '{value}' at '{name}' failed to satisfy constraint: "
                    f"Member must have length less than or equal to {MAX_FILTER_LENGTH}"
                )
        if len(self.Environment) > MAX_ENVIRONMENT:
            raise ValidationError(
                f"1 validation error detected: Value at 'environment' failed to satisfy constraint: "
                f"Map value must have length less than or equal to {MAX_ENVIRONMENT} (got {len(self.Environment)} entries)"
            )
        for media in (self.ContentType, self.Accept):
            if media is not None:
                try:
                    MediaType.parse(media)
                except BadRequest as exc:
                    raise ValidationError(str(exc)) from None
        self.validate_combinations()

    def validate_combinations(self) -> None:
        if self.BatchStrategy is not None and self.SplitType == "None":
            raise ValidationError(
                f"BatchStrategy {self.BatchStrategy} requires SplitType Line or RecordIO: with SplitType None "
                "each request carries a whole file; set SplitType, or leave BatchStrategy unset"
            )
        if self.MaxPayloadInMB and self.MaxConcurrentTransforms:
            if self.MaxPayloadInMB * self.MaxConcurrentTransforms > 100:
                raise ValidationError(
                    f"MaxConcurrentTransforms ({self.MaxConcurrentTransforms}) times MaxPayloadInMB "
                    f"({self.MaxPayloadInMB}) is {self.MaxPayloadInMB * self.MaxConcurrentTransforms} MB; "
                    "it must not exceed 100 MB: lower one of them"
                )
        if self.InputFilter != "$" or self.JoinSource == "Input":
            _filterable("ContentType", self.ContentType, "InputFilter and JoinSource Input")
        if self.JoinSource == "Input":
            _filterable("Accept", self.Accept, "JoinSource")
        if self.OutputFilter != "$" and self.Accept is not None:
            _filterable("Accept", self.Accept, "OutputFilter")
        if self.JoinSource == "Input":
            content, accept = MediaType.parse(self.ContentType), MediaType.parse(self.Accept)
            if str(content) != str(accept):
                raise ValidationError(
                    f"JoinSource Input needs Accept to equal ContentType (both {content}); got Accept {accept}"
                )
            if self.AssembleWith != self.SplitType:
                raise ValidationError(
                    f"JoinSource Input needs AssembleWith to equal SplitType; got SplitType {self.SplitType} "
                    f"and AssembleWith {self.AssembleWith}"
                )
            if content == "text/csv" and self.SplitType != "Line":
                raise ValidationError("JoinSource Input with text/csv needs SplitType Line and AssembleWith Line")

    # -- resolution -------------------------------------------------------------------------

    def resolve(self, execution_parameters: Mapping[str, Any] | None) -> "TransformOptions":
        """Fill unset values: job > ``/execution-parameters`` > defaults."""
        params = execution_parameters or {}
        strategy = self.BatchStrategy
        if strategy is None and self.SplitType != "None":
            strategy = STRATEGY_FROM_CONTAINER.get(str(params.get("BatchStrategy", "")).upper(), DEFAULT_BATCH_STRATEGY)
        payload = self.MaxPayloadInMB
        if payload is None:
            payload = _positive_int(params.get("MaxPayloadInMB"), DEFAULT_MAX_PAYLOAD_MB)
        concurrent = self.MaxConcurrentTransforms or _positive_int(params.get("MaxConcurrentTransforms"), DEFAULT_MAX_CONCURRENT)
        if payload and payload * concurrent > 100 and not self.MaxConcurrentTransforms:
            capped = max(1, 100 // payload)
            log.info("MaxConcurrentTransforms %d from the container lowered to %d so that %d x %d MB stays within 100 MB",
                     concurrent, capped, capped, payload)
            concurrent = capped
        return replace(self, BatchStrategy=strategy, MaxPayloadInMB=payload, MaxConcurrentTransforms=concurrent)

    @property
    def max_payload_bytes(self) -> int | None:
        """The byte limit of one request; ``None`` for ``MaxPayloadInMB=0`` (no limit, streamed)."""
        return self.MaxPayloadInMB * 1024 * 1024 if self.MaxPayloadInMB else None

    def container_environment(self) -> dict[str, str]:
        """What a transform adds to every container's environment (SageMaker 5.4)."""
        env = {"SAGEMAKER_BATCH": "true"}
        if self.MaxPayloadInMB:
            env["SAGEMAKER_MAX_PAYLOAD_IN_MB"] = str(self.MaxPayloadInMB)
        if self.BatchStrategy:
            env["SAGEMAKER_BATCH_STRATEGY"] = STRATEGY_TO_CONTAINER[self.BatchStrategy]
        if self.MaxConcurrentTransforms:
            env["SAGEMAKER_MAX_CONCURRENT_TRANSFORMS"] = str(self.MaxConcurrentTransforms)
        env.update(self.Environment)
        return env

    def as_dict(self) -> dict[str, Any]:
        values = asdict(self)
        values["Environment"] = dict(self.Environment)
        return values


def _one_of(name: str, member: str, value: Any, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
            f"Member must satisfy enum value set: [{', '.join(allowed)}] ({name})"
        )


def _filterable(name: str, media: str | None, what: str) -> None:
    if media is None or MediaType.parse(media) not in FILTERABLE:
        raise ValidationError(
            f"{what} can only read {', '.join(FILTERABLE)}: set {name} to one of them (got {media or 'none'})"
        )


def _in_range(member: str, value: Any, low: int, high: int | None) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValidationError(f"'{member}' must be a whole number, got {value!r}")
    if value < low:
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
            f"Member must have value greater than or equal to {low}"
        )
    if high is not None and value > high:
        raise ValidationError(
            f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
            f"Member must have value less than or equal to {high}"
        )


def _positive_int(value: Any, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return default
    return number if number > 0 else default
