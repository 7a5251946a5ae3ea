import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from cumulo.types.v1 import types_pb2 as _types_pb2
from cumulo.containerserver.v1 import containerserver_pb2 as _containerserver_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ObjectLocation(_message.Message):
    __slots__ = ("device", "partition", "account", "container", "object")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    device: str
    partition: int
    account: str
    container: str
    object: str
    def __init__(self, device: _Optional[str] = ..., partition: _Optional[int] = ..., account: _Optional[str] = ..., container: _Optional[str] = ..., object: _Optional[str] = ...) -> None: ...

class ObjectMetadata(_message.Message):
    __slots__ = ("account", "container", "object", "timestamp", "size", "content_type", "metadata", "etag", "sha256", "chunk_size", "chunk_xxh3", "created_at", "modified_at")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    SHA256_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    CHUNK_XXH3_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    MODIFIED_AT_FIELD_NUMBER: _ClassVar[int]
    account: str
    container: str
    object: str
    timestamp: str
    size: int
    content_type: str
    metadata: _containers.ScalarMap[str, str]
    etag: str
    sha256: str
    chunk_size: int
    chunk_xxh3: _containers.RepeatedScalarFieldContainer[int]
    created_at: _timestamp_pb2.Timestamp
    modified_at: _timestamp_pb2.Timestamp
    def __init__(self, account: _Optional[str] = ..., container: _Optional[str] = ..., object: _Optional[str] = ..., timestamp: _Optional[str] = ..., size: _Optional[int] = ..., content_type: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., etag: _Optional[str] = ..., sha256: _Optional[str] = ..., chunk_size: _Optional[int] = ..., chunk_xxh3: _Optional[_Iterable[int]] = ..., created_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., modified_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class PutObjectHeader(_message.Message):
    __slots__ = ("location", "timestamp", "content_type", "metadata", "chunk_size", "compute_sha256", "expected_size", "expected_md5", "trusted_md5", "then_list")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CHUNK_SIZE_FIELD_NUMBER: _ClassVar[int]
    COMPUTE_SHA256_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SIZE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_MD5_FIELD_NUMBER: _ClassVar[int]
    TRUSTED_MD5_FIELD_NUMBER: _ClassVar[int]
    THEN_LIST_FIELD_NUMBER: _ClassVar[int]
    location: ObjectLocation
    timestamp: str
    content_type: str
    metadata: _containers.ScalarMap[str, str]
    chunk_size: int
    compute_sha256: bool
    expected_size: int
    expected_md5: str
    trusted_md5: str
    then_list: ListingUpdate
    def __init__(self, location: _Optional[_Union[ObjectLocation, _Mapping]] = ..., timestamp: _Optional[str] = ..., content_type: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ..., chunk_size: _Optional[int] = ..., compute_sha256: _Optional[bool] = ..., expected_size: _Optional[int] = ..., expected_md5: _Optional[str] = ..., trusted_md5: _Optional[str] = ..., then_list: _Optional[_Union[ListingUpdate, _Mapping]] = ...) -> None: ...

class ListingUpdate(_message.Message):
    __slots__ = ("shard", "row")
    SHARD_FIELD_NUMBER: _ClassVar[int]
    ROW_FIELD_NUMBER: _ClassVar[int]
    shard: _containerserver_pb2.ShardRef
    row: _containerserver_pb2.IndexRow
    def __init__(self, shard: _Optional[_Union[_containerserver_pb2.ShardRef, _Mapping]] = ..., row: _Optional[_Union[_containerserver_pb2.IndexRow, _Mapping]] = ...) -> None: ...

class ListingResult(_message.Message):
    __slots__ = ("applied", "replaced", "error")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    REPLACED_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    applied: bool
    replaced: _containers.RepeatedCompositeFieldContainer[_containerserver_pb2.IndexRow]
    error: str
    def __init__(self, applied: _Optional[bool] = ..., replaced: _Optional[_Iterable[_Union[_containerserver_pb2.IndexRow, _Mapping]]] = ..., error: _Optional[str] = ...) -> None: ...

class ObjectChunk(_message.Message):
    __slots__ = ("data", "xxh3")
    DATA_FIELD_NUMBER: _ClassVar[int]
    XXH3_FIELD_NUMBER: _ClassVar[int]
    data: bytes
    xxh3: int
    def __init__(self, data: _Optional[bytes] = ..., xxh3: _Optional[int] = ...) -> None: ...

class PutObjectCommit(_message.Message):
    __slots__ = ("expected_md5", "expected_sha256", "expected_size")
    EXPECTED_MD5_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SHA256_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_SIZE_FIELD_NUMBER: _ClassVar[int]
    expected_md5: str
    expected_sha256: str
    expected_size: int
    def __init__(self, expected_md5: _Optional[str] = ..., expected_sha256: _Optional[str] = ..., expected_size: _Optional[int] = ...) -> None: ...

class PutObjectRequest(_message.Message):
    __slots__ = ("header", "chunk", "commit")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    COMMIT_FIELD_NUMBER: _ClassVar[int]
    header: PutObjectHeader
    chunk: ObjectChunk
    commit: PutObjectCommit
    def __init__(self, header: _Optional[_Union[PutObjectHeader, _Mapping]] = ..., chunk: _Optional[_Union[ObjectChunk, _Mapping]] = ..., commit: _Optional[_Union[PutObjectCommit, _Mapping]] = ...) -> None: ...

class PutObjectResponse(_message.Message):
    __slots__ = ("object", "listing")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    LISTING_FIELD_NUMBER: _ClassVar[int]
    object: ObjectMetadata
    listing: ListingResult
    def __init__(self, object: _Optional[_Union[ObjectMetadata, _Mapping]] = ..., listing: _Optional[_Union[ListingResult, _Mapping]] = ...) -> None: ...

class ByteRange(_message.Message):
    __slots__ = ("start", "end")
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    start: int
    end: int
    def __init__(self, start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class GetObjectRequest(_message.Message):
    __slots__ = ("location", "range")
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    RANGE_FIELD_NUMBER: _ClassVar[int]
    location: ObjectLocation
    range: ByteRange
    def __init__(self, location: _Optional[_Union[ObjectLocation, _Mapping]] = ..., range: _Optional[_Union[ByteRange, _Mapping]] = ...) -> None: ...

class GetObjectHeader(_message.Message):
    __slots__ = ("object", "start", "end")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    START_FIELD_NUMBER: _ClassVar[int]
    END_FIELD_NUMBER: _ClassVar[int]
    object: ObjectMetadata
    start: int
    end: int
    def __init__(self, object: _Optional[_Union[ObjectMetadata, _Mapping]] = ..., start: _Optional[int] = ..., end: _Optional[int] = ...) -> None: ...

class GetObjectResponse(_message.Message):
    __slots__ = ("header", "chunk")
    HEADER_FIELD_NUMBER: _ClassVar[int]
    CHUNK_FIELD_NUMBER: _ClassVar[int]
    header: GetObjectHeader
    chunk: ObjectChunk
    def __init__(self, header: _Optional[_Union[GetObjectHeader, _Mapping]] = ..., chunk: _Optional[_Union[ObjectChunk, _Mapping]] = ...) -> None: ...

class HeadObjectRequest(_message.Message):
    __slots__ = ("location", "include_chunk_digests", "include_deleted", "timestamp_only")
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_CHUNK_DIGESTS_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_DELETED_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_ONLY_FIELD_NUMBER: _ClassVar[int]
    location: ObjectLocation
    include_chunk_digests: bool
    include_deleted: bool
    timestamp_only: bool
    def __init__(self, location: _Optional[_Union[ObjectLocation, _Mapping]] = ..., include_chunk_digests: _Optional[bool] = ..., include_deleted: _Optional[bool] = ..., timestamp_only: _Optional[bool] = ...) -> None: ...

class HeadObjectResponse(_message.Message):
    __slots__ = ("object", "deleted")
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    object: ObjectMetadata
    deleted: bool
    def __init__(self, object: _Optional[_Union[ObjectMetadata, _Mapping]] = ..., deleted: _Optional[bool] = ...) -> None: ...

class DeleteObjectRequest(_message.Message):
    __slots__ = ("location", "timestamp", "then_list")
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    THEN_LIST_FIELD_NUMBER: _ClassVar[int]
    location: ObjectLocation
    timestamp: str
    then_list: ListingUpdate
    def __init__(self, location: _Optional[_Union[ObjectLocation, _Mapping]] = ..., timestamp: _Optional[str] = ..., then_list: _Optional[_Union[ListingUpdate, _Mapping]] = ...) -> None: ...

class DeleteObjectResponse(_message.Message):
    __slots__ = ("timestamp", "previous_timestamp", "existed", "listing")
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    EXISTED_FIELD_NUMBER: _ClassVar[int]
    LISTING_FIELD_NUMBER: _ClassVar[int]
    timestamp: str
    previous_timestamp: str
    existed: bool
    listing: ListingResult
    def __init__(self, timestamp: _Optional[str] = ..., previous_timestamp: _Optional[str] = ..., existed: _Optional[bool] = ..., listing: _Optional[_Union[ListingResult, _Mapping]] = ...) -> None: ...

class ListPartitionRequest(_message.Message):
    __slots__ = ("device", "partition")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    device: str
    partition: int
    def __init__(self, device: _Optional[str] = ..., partition: _Optional[int] = ...) -> None: ...

class PartitionEntry(_message.Message):
    __slots__ = ("name_hash", "account", "container", "object", "timestamp", "deleted", "size")
    NAME_HASH_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    name_hash: str
    account: str
    container: str
    object: str
    timestamp: str
    deleted: bool
    size: int
    def __init__(self, name_hash: _Optional[str] = ..., account: _Optional[str] = ..., container: _Optional[str] = ..., object: _Optional[str] = ..., timestamp: _Optional[str] = ..., deleted: _Optional[bool] = ..., size: _Optional[int] = ...) -> None: ...

class ListPartitionResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[PartitionEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[PartitionEntry, _Mapping]]] = ...) -> None: ...

class GetDeviceStatsRequest(_message.Message):
    __slots__ = ("devices",)
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, devices: _Optional[_Iterable[str]] = ...) -> None: ...

class DeviceStats(_message.Message):
    __slots__ = ("device", "total_bytes", "free_bytes", "partitions", "quarantined", "pending_writes")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_BYTES_FIELD_NUMBER: _ClassVar[int]
    FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    PENDING_WRITES_FIELD_NUMBER: _ClassVar[int]
    device: str
    total_bytes: int
    free_bytes: int
    partitions: int
    quarantined: int
    pending_writes: int
    def __init__(self, device: _Optional[str] = ..., total_bytes: _Optional[int] = ..., free_bytes: _Optional[int] = ..., partitions: _Optional[int] = ..., quarantined: _Optional[int] = ..., pending_writes: _Optional[int] = ...) -> None: ...

class GetDeviceStatsResponse(_message.Message):
    __slots__ = ("devices",)
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedCompositeFieldContainer[DeviceStats]
    def __init__(self, devices: _Optional[_Iterable[_Union[DeviceStats, _Mapping]]] = ...) -> None: ...

class SessionRequest(_message.Message):
    __slots__ = ("id", "put", "get", "head", "delete", "batch")
    ID_FIELD_NUMBER: _ClassVar[int]
    PUT_FIELD_NUMBER: _ClassVar[int]
    GET_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    id: int
    put: PutObjectRequest
    get: GetObjectRequest
    head: HeadObjectRequest
    delete: DeleteObjectRequest
    batch: _containers.RepeatedCompositeFieldContainer[SessionRequest]
    def __init__(self, id: _Optional[int] = ..., put: _Optional[_Union[PutObjectRequest, _Mapping]] = ..., get: _Optional[_Union[GetObjectRequest, _Mapping]] = ..., head: _Optional[_Union[HeadObjectRequest, _Mapping]] = ..., delete: _Optional[_Union[DeleteObjectRequest, _Mapping]] = ..., batch: _Optional[_Iterable[_Union[SessionRequest, _Mapping]]] = ...) -> None: ...

class SessionResponse(_message.Message):
    __slots__ = ("id", "error", "put", "get", "head", "delete", "batch")
    ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    PUT_FIELD_NUMBER: _ClassVar[int]
    GET_FIELD_NUMBER: _ClassVar[int]
    HEAD_FIELD_NUMBER: _ClassVar[int]
    DELETE_FIELD_NUMBER: _ClassVar[int]
    BATCH_FIELD_NUMBER: _ClassVar[int]
    id: int
    error: SessionError
    put: PutObjectResponse
    get: GetObjectResponse
    head: HeadObjectResponse
    delete: DeleteObjectResponse
    batch: _containers.RepeatedCompositeFieldContainer[SessionResponse]
    def __init__(self, id: _Optional[int] = ..., error: _Optional[_Union[SessionError, _Mapping]] = ..., put: _Optional[_Union[PutObjectResponse, _Mapping]] = ..., get: _Optional[_Union[GetObjectResponse, _Mapping]] = ..., head: _Optional[_Union[HeadObjectResponse, _Mapping]] = ..., delete: _Optional[_Union[DeleteObjectResponse, _Mapping]] = ..., batch: _Optional[_Iterable[_Union[SessionResponse, _Mapping]]] = ...) -> None: ...

class SessionError(_message.Message):
    __slots__ = ("code", "message", "detail")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    detail: _types_pb2.ErrorDetail
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., detail: _Optional[_Union[_types_pb2.ErrorDetail, _Mapping]] = ...) -> None: ...
