import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetVersionRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetVersionResponse(_message.Message):
    __slots__ = ("version", "api_packages", "components")
    class ComponentsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    VERSION_FIELD_NUMBER: _ClassVar[int]
    API_PACKAGES_FIELD_NUMBER: _ClassVar[int]
    COMPONENTS_FIELD_NUMBER: _ClassVar[int]
    version: str
    api_packages: _containers.RepeatedScalarFieldContainer[str]
    components: _containers.ScalarMap[str, str]
    def __init__(self, version: _Optional[str] = ..., api_packages: _Optional[_Iterable[str]] = ..., components: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetInfoRequest(_message.Message):
    __slots__ = ("sections",)
    SECTIONS_FIELD_NUMBER: _ClassVar[int]
    sections: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, sections: _Optional[_Iterable[str]] = ...) -> None: ...

class DatabaseInfo(_message.Message):
    __slots__ = ("kind", "server_version", "schema_version", "url")
    KIND_FIELD_NUMBER: _ClassVar[int]
    SERVER_VERSION_FIELD_NUMBER: _ClassVar[int]
    SCHEMA_VERSION_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    kind: str
    server_version: str
    schema_version: int
    url: str
    def __init__(self, kind: _Optional[str] = ..., server_version: _Optional[str] = ..., schema_version: _Optional[int] = ..., url: _Optional[str] = ...) -> None: ...

class NativeInfo(_message.Message):
    __slots__ = ("backend", "fallbacks")
    class FallbacksEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    BACKEND_FIELD_NUMBER: _ClassVar[int]
    FALLBACKS_FIELD_NUMBER: _ClassVar[int]
    backend: str
    fallbacks: _containers.ScalarMap[str, str]
    def __init__(self, backend: _Optional[str] = ..., fallbacks: _Optional[_Mapping[str, str]] = ...) -> None: ...

class RuntimeInfo(_message.Message):
    __slots__ = ("hostname", "pid", "started_at", "uptime", "instance_id", "data_dir")
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    PID_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    UPTIME_FIELD_NUMBER: _ClassVar[int]
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    DATA_DIR_FIELD_NUMBER: _ClassVar[int]
    hostname: str
    pid: int
    started_at: _timestamp_pb2.Timestamp
    uptime: _duration_pb2.Duration
    instance_id: str
    data_dir: str
    def __init__(self, hostname: _Optional[str] = ..., pid: _Optional[int] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., uptime: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., instance_id: _Optional[str] = ..., data_dir: _Optional[str] = ...) -> None: ...

class GetInfoResponse(_message.Message):
    __slots__ = ("database", "native", "runtime")
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    NATIVE_FIELD_NUMBER: _ClassVar[int]
    RUNTIME_FIELD_NUMBER: _ClassVar[int]
    database: DatabaseInfo
    native: NativeInfo
    runtime: RuntimeInfo
    def __init__(self, database: _Optional[_Union[DatabaseInfo, _Mapping]] = ..., native: _Optional[_Union[NativeInfo, _Mapping]] = ..., runtime: _Optional[_Union[RuntimeInfo, _Mapping]] = ...) -> None: ...
