import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class AgentMessage(_message.Message):
    __slots__ = ("register", "heartbeat", "inventory", "status", "ack")
    REGISTER_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ACK_FIELD_NUMBER: _ClassVar[int]
    register: Register
    heartbeat: Heartbeat
    inventory: Inventory
    status: StatusReport
    ack: Ack
    def __init__(self, register: _Optional[_Union[Register, _Mapping]] = ..., heartbeat: _Optional[_Union[Heartbeat, _Mapping]] = ..., inventory: _Optional[_Union[Inventory, _Mapping]] = ..., status: _Optional[_Union[StatusReport, _Mapping]] = ..., ack: _Optional[_Union[Ack, _Mapping]] = ...) -> None: ...

class ControllerMessage(_message.Message):
    __slots__ = ("registered", "desired_state", "progress", "drain")
    REGISTERED_FIELD_NUMBER: _ClassVar[int]
    DESIRED_STATE_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_FIELD_NUMBER: _ClassVar[int]
    DRAIN_FIELD_NUMBER: _ClassVar[int]
    registered: Registered
    desired_state: DesiredState
    progress: ProgressNotify
    drain: Drain
    def __init__(self, registered: _Optional[_Union[Registered, _Mapping]] = ..., desired_state: _Optional[_Union[DesiredState, _Mapping]] = ..., progress: _Optional[_Union[ProgressNotify, _Mapping]] = ..., drain: _Optional[_Union[Drain, _Mapping]] = ...) -> None: ...

class Register(_message.Message):
    __slots__ = ("node_id", "node_name", "applied_revision", "agent_version", "inventory")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    APPLIED_REVISION_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    node_name: str
    applied_revision: int
    agent_version: str
    inventory: Inventory
    def __init__(self, node_id: _Optional[str] = ..., node_name: _Optional[str] = ..., applied_revision: _Optional[int] = ..., agent_version: _Optional[str] = ..., inventory: _Optional[_Union[Inventory, _Mapping]] = ...) -> None: ...

class Heartbeat(_message.Message):
    __slots__ = ("sequence",)
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    sequence: int
    def __init__(self, sequence: _Optional[int] = ...) -> None: ...

class Inventory(_message.Message):
    __slots__ = ("hostname", "vcpus", "memory_bytes", "disk_bytes", "disk_free_bytes", "cpu_model", "cpu_flags", "arch", "kernel", "kvm_usable", "kvm_reason", "hypervisor_available", "hypervisor", "hypervisor_reason")
    HOSTNAME_FIELD_NUMBER: _ClassVar[int]
    VCPUS_FIELD_NUMBER: _ClassVar[int]
    MEMORY_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_BYTES_FIELD_NUMBER: _ClassVar[int]
    DISK_FREE_BYTES_FIELD_NUMBER: _ClassVar[int]
    CPU_MODEL_FIELD_NUMBER: _ClassVar[int]
    CPU_FLAGS_FIELD_NUMBER: _ClassVar[int]
    ARCH_FIELD_NUMBER: _ClassVar[int]
    KERNEL_FIELD_NUMBER: _ClassVar[int]
    KVM_USABLE_FIELD_NUMBER: _ClassVar[int]
    KVM_REASON_FIELD_NUMBER: _ClassVar[int]
    HYPERVISOR_AVAILABLE_FIELD_NUMBER: _ClassVar[int]
    HYPERVISOR_FIELD_NUMBER: _ClassVar[int]
    HYPERVISOR_REASON_FIELD_NUMBER: _ClassVar[int]
    hostname: str
    vcpus: int
    memory_bytes: int
    disk_bytes: int
    disk_free_bytes: int
    cpu_model: str
    cpu_flags: _containers.RepeatedScalarFieldContainer[str]
    arch: str
    kernel: str
    kvm_usable: bool
    kvm_reason: str
    hypervisor_available: bool
    hypervisor: str
    hypervisor_reason: str
    def __init__(self, hostname: _Optional[str] = ..., vcpus: _Optional[int] = ..., memory_bytes: _Optional[int] = ..., disk_bytes: _Optional[int] = ..., disk_free_bytes: _Optional[int] = ..., cpu_model: _Optional[str] = ..., cpu_flags: _Optional[_Iterable[str]] = ..., arch: _Optional[str] = ..., kernel: _Optional[str] = ..., kvm_usable: _Optional[bool] = ..., kvm_reason: _Optional[str] = ..., hypervisor_available: _Optional[bool] = ..., hypervisor: _Optional[str] = ..., hypervisor_reason: _Optional[str] = ...) -> None: ...

class Resource(_message.Message):
    __slots__ = ("kind", "name", "spec")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SPEC_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    spec: _struct_pb2.Struct
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., spec: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class DesiredState(_message.Message):
    __slots__ = ("revision", "resources")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    revision: int
    resources: _containers.RepeatedCompositeFieldContainer[Resource]
    def __init__(self, revision: _Optional[int] = ..., resources: _Optional[_Iterable[_Union[Resource, _Mapping]]] = ...) -> None: ...

class ResourceStatus(_message.Message):
    __slots__ = ("kind", "name", "state", "message")
    KIND_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    kind: str
    name: str
    state: str
    message: str
    def __init__(self, kind: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[str] = ..., message: _Optional[str] = ...) -> None: ...

class StatusReport(_message.Message):
    __slots__ = ("revision", "resources")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    revision: int
    resources: _containers.RepeatedCompositeFieldContainer[ResourceStatus]
    def __init__(self, revision: _Optional[int] = ..., resources: _Optional[_Iterable[_Union[ResourceStatus, _Mapping]]] = ...) -> None: ...

class Ack(_message.Message):
    __slots__ = ("revision", "ok")
    REVISION_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    revision: int
    ok: bool
    def __init__(self, revision: _Optional[int] = ..., ok: _Optional[bool] = ...) -> None: ...

class Registered(_message.Message):
    __slots__ = ("node_id", "node_name", "desired_revision", "heartbeat_timeout", "progress_interval", "controller_instance")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    DESIRED_REVISION_FIELD_NUMBER: _ClassVar[int]
    HEARTBEAT_TIMEOUT_FIELD_NUMBER: _ClassVar[int]
    PROGRESS_INTERVAL_FIELD_NUMBER: _ClassVar[int]
    CONTROLLER_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    node_name: str
    desired_revision: int
    heartbeat_timeout: _duration_pb2.Duration
    progress_interval: _duration_pb2.Duration
    controller_instance: str
    def __init__(self, node_id: _Optional[str] = ..., node_name: _Optional[str] = ..., desired_revision: _Optional[int] = ..., heartbeat_timeout: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., progress_interval: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., controller_instance: _Optional[str] = ...) -> None: ...

class ProgressNotify(_message.Message):
    __slots__ = ("desired_revision",)
    DESIRED_REVISION_FIELD_NUMBER: _ClassVar[int]
    desired_revision: int
    def __init__(self, desired_revision: _Optional[int] = ...) -> None: ...

class Drain(_message.Message):
    __slots__ = ("draining", "reason")
    DRAINING_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    draining: bool
    reason: str
    def __init__(self, draining: _Optional[bool] = ..., reason: _Optional[str] = ...) -> None: ...
