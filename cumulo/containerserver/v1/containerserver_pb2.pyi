from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ShardRef(_message.Message):
    __slots__ = ("device", "partition", "account", "container", "shard")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    SHARD_FIELD_NUMBER: _ClassVar[int]
    device: str
    partition: int
    account: str
    container: str
    shard: int
    def __init__(self, device: _Optional[str] = ..., partition: _Optional[int] = ..., account: _Optional[str] = ..., container: _Optional[str] = ..., shard: _Optional[int] = ...) -> None: ...

class IndexRow(_message.Message):
    __slots__ = ("name", "timestamp", "deleted", "size", "etag", "content_type", "extra")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    SIZE_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    EXTRA_FIELD_NUMBER: _ClassVar[int]
    name: str
    timestamp: str
    deleted: bool
    size: int
    etag: str
    content_type: str
    extra: bytes
    def __init__(self, name: _Optional[str] = ..., timestamp: _Optional[str] = ..., deleted: _Optional[bool] = ..., size: _Optional[int] = ..., etag: _Optional[str] = ..., content_type: _Optional[str] = ..., extra: _Optional[bytes] = ...) -> None: ...

class ShardUpdate(_message.Message):
    __slots__ = ("shard", "rows")
    SHARD_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    shard: ShardRef
    rows: _containers.RepeatedCompositeFieldContainer[IndexRow]
    def __init__(self, shard: _Optional[_Union[ShardRef, _Mapping]] = ..., rows: _Optional[_Iterable[_Union[IndexRow, _Mapping]]] = ...) -> None: ...

class UpdateIndexRequest(_message.Message):
    __slots__ = ("updates",)
    UPDATES_FIELD_NUMBER: _ClassVar[int]
    updates: _containers.RepeatedCompositeFieldContainer[ShardUpdate]
    def __init__(self, updates: _Optional[_Iterable[_Union[ShardUpdate, _Mapping]]] = ...) -> None: ...

class ShardResult(_message.Message):
    __slots__ = ("code", "message", "replaced")
    CODE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    REPLACED_FIELD_NUMBER: _ClassVar[int]
    code: int
    message: str
    replaced: _containers.RepeatedCompositeFieldContainer[IndexRow]
    def __init__(self, code: _Optional[int] = ..., message: _Optional[str] = ..., replaced: _Optional[_Iterable[_Union[IndexRow, _Mapping]]] = ...) -> None: ...

class UpdateIndexResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[ShardResult]
    def __init__(self, results: _Optional[_Iterable[_Union[ShardResult, _Mapping]]] = ...) -> None: ...

class ListIndexRequest(_message.Message):
    __slots__ = ("shards", "prefix", "marker", "limit", "delimiter")
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    PREFIX_FIELD_NUMBER: _ClassVar[int]
    MARKER_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    DELIMITER_FIELD_NUMBER: _ClassVar[int]
    shards: _containers.RepeatedCompositeFieldContainer[ShardRef]
    prefix: str
    marker: str
    limit: int
    delimiter: str
    def __init__(self, shards: _Optional[_Iterable[_Union[ShardRef, _Mapping]]] = ..., prefix: _Optional[str] = ..., marker: _Optional[str] = ..., limit: _Optional[int] = ..., delimiter: _Optional[str] = ...) -> None: ...

class ListIndexResponse(_message.Message):
    __slots__ = ("rows", "truncated")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TRUNCATED_FIELD_NUMBER: _ClassVar[int]
    rows: _containers.RepeatedCompositeFieldContainer[IndexRow]
    truncated: bool
    def __init__(self, rows: _Optional[_Iterable[_Union[IndexRow, _Mapping]]] = ..., truncated: _Optional[bool] = ...) -> None: ...

class GetIndexStatsRequest(_message.Message):
    __slots__ = ("shards",)
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    shards: _containers.RepeatedCompositeFieldContainer[ShardRef]
    def __init__(self, shards: _Optional[_Iterable[_Union[ShardRef, _Mapping]]] = ...) -> None: ...

class ShardStats(_message.Message):
    __slots__ = ("exists", "object_count", "bytes_used", "max_timestamp")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    OBJECT_COUNT_FIELD_NUMBER: _ClassVar[int]
    BYTES_USED_FIELD_NUMBER: _ClassVar[int]
    MAX_TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    object_count: int
    bytes_used: int
    max_timestamp: str
    def __init__(self, exists: _Optional[bool] = ..., object_count: _Optional[int] = ..., bytes_used: _Optional[int] = ..., max_timestamp: _Optional[str] = ...) -> None: ...

class GetIndexStatsResponse(_message.Message):
    __slots__ = ("stats",)
    STATS_FIELD_NUMBER: _ClassVar[int]
    stats: _containers.RepeatedCompositeFieldContainer[ShardStats]
    def __init__(self, stats: _Optional[_Iterable[_Union[ShardStats, _Mapping]]] = ...) -> None: ...

class GetIndexSyncPointsRequest(_message.Message):
    __slots__ = ("shards", "source_ids")
    SHARDS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_IDS_FIELD_NUMBER: _ClassVar[int]
    shards: _containers.RepeatedCompositeFieldContainer[ShardRef]
    source_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, shards: _Optional[_Iterable[_Union[ShardRef, _Mapping]]] = ..., source_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class IndexSyncPoint(_message.Message):
    __slots__ = ("exists", "replica_id", "max_seq", "point")
    EXISTS_FIELD_NUMBER: _ClassVar[int]
    REPLICA_ID_FIELD_NUMBER: _ClassVar[int]
    MAX_SEQ_FIELD_NUMBER: _ClassVar[int]
    POINT_FIELD_NUMBER: _ClassVar[int]
    exists: bool
    replica_id: str
    max_seq: int
    point: int
    def __init__(self, exists: _Optional[bool] = ..., replica_id: _Optional[str] = ..., max_seq: _Optional[int] = ..., point: _Optional[int] = ...) -> None: ...

class GetIndexSyncPointsResponse(_message.Message):
    __slots__ = ("points",)
    POINTS_FIELD_NUMBER: _ClassVar[int]
    points: _containers.RepeatedCompositeFieldContainer[IndexSyncPoint]
    def __init__(self, points: _Optional[_Iterable[_Union[IndexSyncPoint, _Mapping]]] = ...) -> None: ...

class ListIndexChangesRequest(_message.Message):
    __slots__ = ("shard", "after_seq", "limit", "skip_tombstones_before")
    SHARD_FIELD_NUMBER: _ClassVar[int]
    AFTER_SEQ_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    SKIP_TOMBSTONES_BEFORE_FIELD_NUMBER: _ClassVar[int]
    shard: ShardRef
    after_seq: int
    limit: int
    skip_tombstones_before: str
    def __init__(self, shard: _Optional[_Union[ShardRef, _Mapping]] = ..., after_seq: _Optional[int] = ..., limit: _Optional[int] = ..., skip_tombstones_before: _Optional[str] = ...) -> None: ...

class ListIndexChangesResponse(_message.Message):
    __slots__ = ("replica_id", "rows", "up_to_seq", "more")
    REPLICA_ID_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    UP_TO_SEQ_FIELD_NUMBER: _ClassVar[int]
    MORE_FIELD_NUMBER: _ClassVar[int]
    replica_id: str
    rows: _containers.RepeatedCompositeFieldContainer[IndexRow]
    up_to_seq: int
    more: bool
    def __init__(self, replica_id: _Optional[str] = ..., rows: _Optional[_Iterable[_Union[IndexRow, _Mapping]]] = ..., up_to_seq: _Optional[int] = ..., more: _Optional[bool] = ...) -> None: ...

class SyncIndexRowsRequest(_message.Message):
    __slots__ = ("shard", "source_id", "up_to_seq", "rows")
    SHARD_FIELD_NUMBER: _ClassVar[int]
    SOURCE_ID_FIELD_NUMBER: _ClassVar[int]
    UP_TO_SEQ_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    shard: ShardRef
    source_id: str
    up_to_seq: int
    rows: _containers.RepeatedCompositeFieldContainer[IndexRow]
    def __init__(self, shard: _Optional[_Union[ShardRef, _Mapping]] = ..., source_id: _Optional[str] = ..., up_to_seq: _Optional[int] = ..., rows: _Optional[_Iterable[_Union[IndexRow, _Mapping]]] = ...) -> None: ...

class SyncIndexRowsResponse(_message.Message):
    __slots__ = ("applied", "point")
    APPLIED_FIELD_NUMBER: _ClassVar[int]
    POINT_FIELD_NUMBER: _ClassVar[int]
    applied: int
    point: int
    def __init__(self, applied: _Optional[int] = ..., point: _Optional[int] = ...) -> None: ...
