"""SageMaker's ``Record`` protobuf message (package ``aialgs.data``), defined here in Python.

These are the messages the built-in algorithms and the SageMaker SDK's
``sagemaker.amazon.common`` read and write: a ``Record`` maps feature and label names to
``Value`` s, each a float32, float64 or int32 tensor (dense: ``values``; sparse: ``values`` at
``keys`` of a vector of ``shape``) or raw bytes. Field numbers and types are the public
``record.proto`` s, so the bytes are the same on both sides. The definition is built as a
``FileDescriptorProto`` in a private descriptor pool, so no generated ``_pb2`` module (tied to
one protobuf release) is needed and the SDK's own ``record_pb2`` can be loaded beside it.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

_F = descriptor_pb2.FieldDescriptorProto
PACKAGE = "aialgs.data"


def _field(message, name: str, number: int, kind: int, label: int = _F.LABEL_OPTIONAL,
           type_name: str | None = None, packed: bool = False, oneof: int | None = None) -> None:
    field = message.field.add(name=name, number=number, type=kind, label=label)
    if type_name:
        field.type_name = f".{PACKAGE}.{type_name}"
    if packed:
        field.options.packed = True
    if oneof is not None:
        field.oneof_index = oneof


def _tensor(file, name: str, value_type: int) -> None:
    message = file.message_type.add(name=name)
    _field(message, "values", 1, value_type, _F.LABEL_REPEATED, packed=True)
    _field(message, "keys", 2, _F.TYPE_UINT64, _F.LABEL_REPEATED, packed=True)
    _field(message, "shape", 3, _F.TYPE_UINT64, _F.LABEL_REPEATED, packed=True)


def _map(message, name: str, number: int, entry: str, value_type: str) -> None:
    nested = message.nested_type.add(name=entry)
    nested.options.map_entry = True
    _field(nested, "key", 1, _F.TYPE_STRING)
    _field(nested, "value", 2, _F.TYPE_MESSAGE, type_name=value_type)
    _field(message, name, number, _F.TYPE_MESSAGE, _F.LABEL_REPEATED, type_name=f"Record.{entry}")


def _file() -> descriptor_pb2.FileDescriptorProto:
    file = descriptor_pb2.FileDescriptorProto(name="aialgs/data/record.proto", package=PACKAGE, syntax="proto2")
    _tensor(file, "Float32Tensor", _F.TYPE_FLOAT)
    _tensor(file, "Float64Tensor", _F.TYPE_DOUBLE)
    _tensor(file, "Int32Tensor", _F.TYPE_INT32)
    raw = file.message_type.add(name="Bytes")
    _field(raw, "value", 1, _F.TYPE_BYTES, _F.LABEL_REPEATED)
    _field(raw, "content_type", 2, _F.TYPE_STRING)
    value = file.message_type.add(name="Value")
    value.oneof_decl.add(name="value")
    _field(value, "float32_tensor", 2, _F.TYPE_MESSAGE, type_name="Float32Tensor", oneof=0)
    _field(value, "float64_tensor", 3, _F.TYPE_MESSAGE, type_name="Float64Tensor", oneof=0)
    _field(value, "int32_tensor", 7, _F.TYPE_MESSAGE, type_name="Int32Tensor", oneof=0)
    _field(value, "bytes", 9, _F.TYPE_MESSAGE, type_name="Bytes", oneof=0)
    record = file.message_type.add(name="Record")
    _map(record, "features", 1, "FeaturesEntry", "Value")
    _map(record, "label", 2, "LabelEntry", "Value")
    _field(record, "uid", 3, _F.TYPE_STRING)
    _field(record, "metadata", 4, _F.TYPE_STRING)
    _field(record, "configuration", 5, _F.TYPE_STRING)
    return file


_POOL = descriptor_pool.DescriptorPool()
_POOL.Add(_file())

Record = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{PACKAGE}.Record"))
Value = message_factory.GetMessageClass(_POOL.FindMessageTypeByName(f"{PACKAGE}.Value"))

__all__ = ["Record", "Value"]
