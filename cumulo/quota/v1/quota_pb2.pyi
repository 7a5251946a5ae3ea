import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from cumulo.types.v1 import types_pb2 as _types_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class QuotaItem(_message.Message):
    __slots__ = ("resource", "limit", "in_use", "is_default")
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    IN_USE_FIELD_NUMBER: _ClassVar[int]
    IS_DEFAULT_FIELD_NUMBER: _ClassVar[int]
    resource: str
    limit: int
    in_use: int
    is_default: bool
    def __init__(self, resource: _Optional[str] = ..., limit: _Optional[int] = ..., in_use: _Optional[int] = ..., is_default: _Optional[bool] = ...) -> None: ...

class GetQuotaRequest(_message.Message):
    __slots__ = ("project_id",)
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    def __init__(self, project_id: _Optional[str] = ...) -> None: ...

class GetQuotaResponse(_message.Message):
    __slots__ = ("project_id", "items")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    items: _containers.RepeatedCompositeFieldContainer[QuotaItem]
    def __init__(self, project_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[QuotaItem, _Mapping]]] = ...) -> None: ...

class SetQuotaRequest(_message.Message):
    __slots__ = ("project_id", "limits", "reset")
    class LimitsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    LIMITS_FIELD_NUMBER: _ClassVar[int]
    RESET_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    limits: _containers.ScalarMap[str, int]
    reset: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, project_id: _Optional[str] = ..., limits: _Optional[_Mapping[str, int]] = ..., reset: _Optional[_Iterable[str]] = ...) -> None: ...

class SetQuotaResponse(_message.Message):
    __slots__ = ("project_id", "items")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    items: _containers.RepeatedCompositeFieldContainer[QuotaItem]
    def __init__(self, project_id: _Optional[str] = ..., items: _Optional[_Iterable[_Union[QuotaItem, _Mapping]]] = ...) -> None: ...

class UsageRecord(_message.Message):
    __slots__ = ("project_id", "resource", "amount", "at")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    AMOUNT_FIELD_NUMBER: _ClassVar[int]
    AT_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    resource: str
    amount: int
    at: _timestamp_pb2.Timestamp
    def __init__(self, project_id: _Optional[str] = ..., resource: _Optional[str] = ..., amount: _Optional[int] = ..., at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class UsageTotal(_message.Message):
    __slots__ = ("resource", "sum", "max", "records")
    RESOURCE_FIELD_NUMBER: _ClassVar[int]
    SUM_FIELD_NUMBER: _ClassVar[int]
    MAX_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    resource: str
    sum: int
    max: int
    records: int
    def __init__(self, resource: _Optional[str] = ..., sum: _Optional[int] = ..., max: _Optional[int] = ..., records: _Optional[int] = ...) -> None: ...

class GetUsageRequest(_message.Message):
    __slots__ = ("project_id", "since", "until", "resources", "page")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    SINCE_FIELD_NUMBER: _ClassVar[int]
    UNTIL_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    since: _timestamp_pb2.Timestamp
    until: _timestamp_pb2.Timestamp
    resources: _containers.RepeatedScalarFieldContainer[str]
    page: _types_pb2.PageRequest
    def __init__(self, project_id: _Optional[str] = ..., since: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., until: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., resources: _Optional[_Iterable[str]] = ..., page: _Optional[_Union[_types_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class GetUsageResponse(_message.Message):
    __slots__ = ("project_id", "totals", "records", "page")
    PROJECT_ID_FIELD_NUMBER: _ClassVar[int]
    TOTALS_FIELD_NUMBER: _ClassVar[int]
    RECORDS_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    project_id: str
    totals: _containers.RepeatedCompositeFieldContainer[UsageTotal]
    records: _containers.RepeatedCompositeFieldContainer[UsageRecord]
    page: _types_pb2.PageResponse
    def __init__(self, project_id: _Optional[str] = ..., totals: _Optional[_Iterable[_Union[UsageTotal, _Mapping]]] = ..., records: _Optional[_Iterable[_Union[UsageRecord, _Mapping]]] = ..., page: _Optional[_Union[_types_pb2.PageResponse, _Mapping]] = ...) -> None: ...
