import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetSuffixHashesRequest(_message.Message):
    __slots__ = ("device", "partition")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    device: str
    partition: int
    def __init__(self, device: _Optional[str] = ..., partition: _Optional[int] = ...) -> None: ...

class GetSuffixHashesResponse(_message.Message):
    __slots__ = ("hashes",)
    class HashesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HASHES_FIELD_NUMBER: _ClassVar[int]
    hashes: _containers.ScalarMap[str, str]
    def __init__(self, hashes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetSuffixHashesBatchRequest(_message.Message):
    __slots__ = ("device", "partitions")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    device: str
    partitions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, device: _Optional[str] = ..., partitions: _Optional[_Iterable[int]] = ...) -> None: ...

class PartitionSuffixHashes(_message.Message):
    __slots__ = ("hashes",)
    class HashesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    HASHES_FIELD_NUMBER: _ClassVar[int]
    hashes: _containers.ScalarMap[str, str]
    def __init__(self, hashes: _Optional[_Mapping[str, str]] = ...) -> None: ...

class GetSuffixHashesBatchResponse(_message.Message):
    __slots__ = ("partitions",)
    class PartitionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: int
        value: PartitionSuffixHashes
        def __init__(self, key: _Optional[int] = ..., value: _Optional[_Union[PartitionSuffixHashes, _Mapping]] = ...) -> None: ...
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.MessageMap[int, PartitionSuffixHashes]
    def __init__(self, partitions: _Optional[_Mapping[int, PartitionSuffixHashes]] = ...) -> None: ...

class ListPartitionsRequest(_message.Message):
    __slots__ = ("device",)
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    device: str
    def __init__(self, device: _Optional[str] = ...) -> None: ...

class ListPartitionsResponse(_message.Message):
    __slots__ = ("partitions",)
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    partitions: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, partitions: _Optional[_Iterable[int]] = ...) -> None: ...

class ListSuffixEntriesRequest(_message.Message):
    __slots__ = ("device", "partition", "suffixes")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    PARTITION_FIELD_NUMBER: _ClassVar[int]
    SUFFIXES_FIELD_NUMBER: _ClassVar[int]
    device: str
    partition: int
    suffixes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, device: _Optional[str] = ..., partition: _Optional[int] = ..., suffixes: _Optional[_Iterable[str]] = ...) -> None: ...

class SuffixEntry(_message.Message):
    __slots__ = ("name_hash", "account", "container", "object", "timestamp", "deleted")
    NAME_HASH_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    CONTAINER_FIELD_NUMBER: _ClassVar[int]
    OBJECT_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    name_hash: str
    account: str
    container: str
    object: str
    timestamp: str
    deleted: bool
    def __init__(self, name_hash: _Optional[str] = ..., account: _Optional[str] = ..., container: _Optional[str] = ..., object: _Optional[str] = ..., timestamp: _Optional[str] = ..., deleted: _Optional[bool] = ...) -> None: ...

class ListSuffixEntriesResponse(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[SuffixEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[SuffixEntry, _Mapping]]] = ...) -> None: ...

class RunReplicationRequest(_message.Message):
    __slots__ = ("devices",)
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, devices: _Optional[_Iterable[str]] = ...) -> None: ...

class ReplicationPass(_message.Message):
    __slots__ = ("device", "started_at", "seconds", "partitions", "suffixes_synced", "objects_pushed", "objects_pulled", "handoffs_removed", "tombstones_reclaimed", "errors", "index")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    SUFFIXES_SYNCED_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_PUSHED_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_PULLED_FIELD_NUMBER: _ClassVar[int]
    HANDOFFS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONES_RECLAIMED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    device: str
    started_at: _timestamp_pb2.Timestamp
    seconds: float
    partitions: int
    suffixes_synced: int
    objects_pushed: int
    objects_pulled: int
    handoffs_removed: int
    tombstones_reclaimed: int
    errors: int
    index: IndexReplicationPass
    def __init__(self, device: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., seconds: _Optional[float] = ..., partitions: _Optional[int] = ..., suffixes_synced: _Optional[int] = ..., objects_pushed: _Optional[int] = ..., objects_pulled: _Optional[int] = ..., handoffs_removed: _Optional[int] = ..., tombstones_reclaimed: _Optional[int] = ..., errors: _Optional[int] = ..., index: _Optional[_Union[IndexReplicationPass, _Mapping]] = ...) -> None: ...

class IndexReplicationPass(_message.Message):
    __slots__ = ("seconds", "databases", "rows_pushed", "rows_pulled", "handoffs_removed", "tombstones_reclaimed", "errors")
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    DATABASES_FIELD_NUMBER: _ClassVar[int]
    ROWS_PUSHED_FIELD_NUMBER: _ClassVar[int]
    ROWS_PULLED_FIELD_NUMBER: _ClassVar[int]
    HANDOFFS_REMOVED_FIELD_NUMBER: _ClassVar[int]
    TOMBSTONES_RECLAIMED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    seconds: float
    databases: int
    rows_pushed: int
    rows_pulled: int
    handoffs_removed: int
    tombstones_reclaimed: int
    errors: int
    def __init__(self, seconds: _Optional[float] = ..., databases: _Optional[int] = ..., rows_pushed: _Optional[int] = ..., rows_pulled: _Optional[int] = ..., handoffs_removed: _Optional[int] = ..., tombstones_reclaimed: _Optional[int] = ..., errors: _Optional[int] = ...) -> None: ...

class RunReplicationResponse(_message.Message):
    __slots__ = ("passes",)
    PASSES_FIELD_NUMBER: _ClassVar[int]
    passes: _containers.RepeatedCompositeFieldContainer[ReplicationPass]
    def __init__(self, passes: _Optional[_Iterable[_Union[ReplicationPass, _Mapping]]] = ...) -> None: ...

class RunAuditRequest(_message.Message):
    __slots__ = ("devices",)
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, devices: _Optional[_Iterable[str]] = ...) -> None: ...

class AuditPass(_message.Message):
    __slots__ = ("device", "started_at", "seconds", "files", "bytes", "quarantined")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    FILES_FIELD_NUMBER: _ClassVar[int]
    BYTES_FIELD_NUMBER: _ClassVar[int]
    QUARANTINED_FIELD_NUMBER: _ClassVar[int]
    device: str
    started_at: _timestamp_pb2.Timestamp
    seconds: float
    files: int
    bytes: int
    quarantined: int
    def __init__(self, device: _Optional[str] = ..., started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., seconds: _Optional[float] = ..., files: _Optional[int] = ..., bytes: _Optional[int] = ..., quarantined: _Optional[int] = ...) -> None: ...

class RunAuditResponse(_message.Message):
    __slots__ = ("passes",)
    PASSES_FIELD_NUMBER: _ClassVar[int]
    passes: _containers.RepeatedCompositeFieldContainer[AuditPass]
    def __init__(self, passes: _Optional[_Iterable[_Union[AuditPass, _Mapping]]] = ...) -> None: ...

class RunSegmentReapRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SegmentReapPass(_message.Message):
    __slots__ = ("started_at", "seconds", "partitions", "segments_examined", "groups_examined", "groups_too_young", "groups_referenced", "groups_orphaned", "groups_unmarked", "groups_unverified", "segments_deleted", "bytes_freed", "errors")
    STARTED_AT_FIELD_NUMBER: _ClassVar[int]
    SECONDS_FIELD_NUMBER: _ClassVar[int]
    PARTITIONS_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_EXAMINED_FIELD_NUMBER: _ClassVar[int]
    GROUPS_EXAMINED_FIELD_NUMBER: _ClassVar[int]
    GROUPS_TOO_YOUNG_FIELD_NUMBER: _ClassVar[int]
    GROUPS_REFERENCED_FIELD_NUMBER: _ClassVar[int]
    GROUPS_ORPHANED_FIELD_NUMBER: _ClassVar[int]
    GROUPS_UNMARKED_FIELD_NUMBER: _ClassVar[int]
    GROUPS_UNVERIFIED_FIELD_NUMBER: _ClassVar[int]
    SEGMENTS_DELETED_FIELD_NUMBER: _ClassVar[int]
    BYTES_FREED_FIELD_NUMBER: _ClassVar[int]
    ERRORS_FIELD_NUMBER: _ClassVar[int]
    started_at: _timestamp_pb2.Timestamp
    seconds: float
    partitions: int
    segments_examined: int
    groups_examined: int
    groups_too_young: int
    groups_referenced: int
    groups_orphaned: int
    groups_unmarked: int
    groups_unverified: int
    segments_deleted: int
    bytes_freed: int
    errors: int
    def __init__(self, started_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., seconds: _Optional[float] = ..., partitions: _Optional[int] = ..., segments_examined: _Optional[int] = ..., groups_examined: _Optional[int] = ..., groups_too_young: _Optional[int] = ..., groups_referenced: _Optional[int] = ..., groups_orphaned: _Optional[int] = ..., groups_unmarked: _Optional[int] = ..., groups_unverified: _Optional[int] = ..., segments_deleted: _Optional[int] = ..., bytes_freed: _Optional[int] = ..., errors: _Optional[int] = ...) -> None: ...

class RunSegmentReapResponse(_message.Message):
    __slots__ = ("reap",)
    REAP_FIELD_NUMBER: _ClassVar[int]
    reap: SegmentReapPass
    def __init__(self, reap: _Optional[_Union[SegmentReapPass, _Mapping]] = ...) -> None: ...

class GetReplicationStatusRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DeviceReplicationStatus(_message.Message):
    __slots__ = ("device", "last_replication", "last_audit", "replicating", "auditing")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    LAST_REPLICATION_FIELD_NUMBER: _ClassVar[int]
    LAST_AUDIT_FIELD_NUMBER: _ClassVar[int]
    REPLICATING_FIELD_NUMBER: _ClassVar[int]
    AUDITING_FIELD_NUMBER: _ClassVar[int]
    device: str
    last_replication: ReplicationPass
    last_audit: AuditPass
    replicating: bool
    auditing: bool
    def __init__(self, device: _Optional[str] = ..., last_replication: _Optional[_Union[ReplicationPass, _Mapping]] = ..., last_audit: _Optional[_Union[AuditPass, _Mapping]] = ..., replicating: _Optional[bool] = ..., auditing: _Optional[bool] = ...) -> None: ...

class GetReplicationStatusResponse(_message.Message):
    __slots__ = ("replication_enabled", "audit_enabled", "replication_interval", "reclaim_age", "ring_file", "ring_version", "devices", "segment_reap_enabled", "segment_reap_age", "last_segment_reap", "reaping")
    REPLICATION_ENABLED_FIELD_NUMBER: _ClassVar[int]
    AUDIT_ENABLED_FIELD_NUMBER: _ClassVar[int]
    REPLICATION_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    RECLAIM_AGE_FIELD_NUMBER: _ClassVar[int]
    RING_FILE_FIELD_NUMBER: _ClassVar[int]
    RING_VERSION_FIELD_NUMBER: _ClassVar[int]
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_REAP_ENABLED_FIELD_NUMBER: _ClassVar[int]
    SEGMENT_REAP_AGE_FIELD_NUMBER: _ClassVar[int]
    LAST_SEGMENT_REAP_FIELD_NUMBER: _ClassVar[int]
    REAPING_FIELD_NUMBER: _ClassVar[int]
    replication_enabled: bool
    audit_enabled: bool
    replication_interval: float
    reclaim_age: float
    ring_file: str
    ring_version: int
    devices: _containers.RepeatedCompositeFieldContainer[DeviceReplicationStatus]
    segment_reap_enabled: bool
    segment_reap_age: float
    last_segment_reap: SegmentReapPass
    reaping: bool
    def __init__(self, replication_enabled: _Optional[bool] = ..., audit_enabled: _Optional[bool] = ..., replication_interval: _Optional[float] = ..., reclaim_age: _Optional[float] = ..., ring_file: _Optional[str] = ..., ring_version: _Optional[int] = ..., devices: _Optional[_Iterable[_Union[DeviceReplicationStatus, _Mapping]]] = ..., segment_reap_enabled: _Optional[bool] = ..., segment_reap_age: _Optional[float] = ..., last_segment_reap: _Optional[_Union[SegmentReapPass, _Mapping]] = ..., reaping: _Optional[bool] = ...) -> None: ...
