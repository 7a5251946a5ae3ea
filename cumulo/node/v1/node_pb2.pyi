import datetime

from cumulo.agent.v1 import agent_pb2 as _agent_pb2
from cumulo.types.v1 import types_pb2 as _types_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NodeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NODE_STATE_UNSPECIFIED: _ClassVar[NodeState]
    NODE_STATE_NEW: _ClassVar[NodeState]
    NODE_STATE_UP: _ClassVar[NodeState]
    NODE_STATE_DOWN: _ClassVar[NodeState]

class AdminState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ADMIN_STATE_UNSPECIFIED: _ClassVar[AdminState]
    ADMIN_STATE_ENABLED: _ClassVar[AdminState]
    ADMIN_STATE_DISABLED: _ClassVar[AdminState]
NODE_STATE_UNSPECIFIED: NodeState
NODE_STATE_NEW: NodeState
NODE_STATE_UP: NodeState
NODE_STATE_DOWN: NodeState
ADMIN_STATE_UNSPECIFIED: AdminState
ADMIN_STATE_ENABLED: AdminState
ADMIN_STATE_DISABLED: AdminState

class Node(_message.Message):
    __slots__ = ("id", "name", "state", "admin_state", "draining", "disabled_reason", "last_seen", "enrolled_at", "state_changed_at", "desired_revision", "applied_revision", "inventory", "agent_version", "controller_instance", "credential_revoked", "resources", "desired_resources")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    ADMIN_STATE_FIELD_NUMBER: _ClassVar[int]
    DRAINING_FIELD_NUMBER: _ClassVar[int]
    DISABLED_REASON_FIELD_NUMBER: _ClassVar[int]
    LAST_SEEN_FIELD_NUMBER: _ClassVar[int]
    ENROLLED_AT_FIELD_NUMBER: _ClassVar[int]
    STATE_CHANGED_AT_FIELD_NUMBER: _ClassVar[int]
    DESIRED_REVISION_FIELD_NUMBER: _ClassVar[int]
    APPLIED_REVISION_FIELD_NUMBER: _ClassVar[int]
    INVENTORY_FIELD_NUMBER: _ClassVar[int]
    AGENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    CONTROLLER_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_REVOKED_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    DESIRED_RESOURCES_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    state: NodeState
    admin_state: AdminState
    draining: bool
    disabled_reason: str
    last_seen: _timestamp_pb2.Timestamp
    enrolled_at: _timestamp_pb2.Timestamp
    state_changed_at: _timestamp_pb2.Timestamp
    desired_revision: int
    applied_revision: int
    inventory: _agent_pb2.Inventory
    agent_version: str
    controller_instance: str
    credential_revoked: bool
    resources: _containers.RepeatedCompositeFieldContainer[_agent_pb2.ResourceStatus]
    desired_resources: _containers.RepeatedCompositeFieldContainer[_agent_pb2.Resource]
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., state: _Optional[_Union[NodeState, str]] = ..., admin_state: _Optional[_Union[AdminState, str]] = ..., draining: _Optional[bool] = ..., disabled_reason: _Optional[str] = ..., last_seen: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., enrolled_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., state_changed_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., desired_revision: _Optional[int] = ..., applied_revision: _Optional[int] = ..., inventory: _Optional[_Union[_agent_pb2.Inventory, _Mapping]] = ..., agent_version: _Optional[str] = ..., controller_instance: _Optional[str] = ..., credential_revoked: _Optional[bool] = ..., resources: _Optional[_Iterable[_Union[_agent_pb2.ResourceStatus, _Mapping]]] = ..., desired_resources: _Optional[_Iterable[_Union[_agent_pb2.Resource, _Mapping]]] = ...) -> None: ...

class EnrollNodeRequest(_message.Message):
    __slots__ = ("name", "rotate")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROTATE_FIELD_NUMBER: _ClassVar[int]
    name: str
    rotate: bool
    def __init__(self, name: _Optional[str] = ..., rotate: _Optional[bool] = ...) -> None: ...

class EnrollNodeResponse(_message.Message):
    __slots__ = ("node", "credential")
    NODE_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    node: Node
    credential: str
    def __init__(self, node: _Optional[_Union[Node, _Mapping]] = ..., credential: _Optional[str] = ...) -> None: ...

class ListNodesRequest(_message.Message):
    __slots__ = ("page",)
    PAGE_FIELD_NUMBER: _ClassVar[int]
    page: _types_pb2.PageRequest
    def __init__(self, page: _Optional[_Union[_types_pb2.PageRequest, _Mapping]] = ...) -> None: ...

class ListNodesResponse(_message.Message):
    __slots__ = ("nodes", "page")
    NODES_FIELD_NUMBER: _ClassVar[int]
    PAGE_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedCompositeFieldContainer[Node]
    page: _types_pb2.PageResponse
    def __init__(self, nodes: _Optional[_Iterable[_Union[Node, _Mapping]]] = ..., page: _Optional[_Union[_types_pb2.PageResponse, _Mapping]] = ...) -> None: ...

class GetNodeRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: str
    def __init__(self, node: _Optional[str] = ...) -> None: ...

class GetNodeResponse(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: Node
    def __init__(self, node: _Optional[_Union[Node, _Mapping]] = ...) -> None: ...

class DisableNodeRequest(_message.Message):
    __slots__ = ("node", "reason")
    NODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    node: str
    reason: str
    def __init__(self, node: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DisableNodeResponse(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: Node
    def __init__(self, node: _Optional[_Union[Node, _Mapping]] = ...) -> None: ...

class EnableNodeRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: str
    def __init__(self, node: _Optional[str] = ...) -> None: ...

class EnableNodeResponse(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: Node
    def __init__(self, node: _Optional[_Union[Node, _Mapping]] = ...) -> None: ...

class DrainNodeRequest(_message.Message):
    __slots__ = ("node", "reason")
    NODE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    node: str
    reason: str
    def __init__(self, node: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class DrainNodeResponse(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: Node
    def __init__(self, node: _Optional[_Union[Node, _Mapping]] = ...) -> None: ...

class RevokeNodeCredentialRequest(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: str
    def __init__(self, node: _Optional[str] = ...) -> None: ...

class RevokeNodeCredentialResponse(_message.Message):
    __slots__ = ("node",)
    NODE_FIELD_NUMBER: _ClassVar[int]
    node: Node
    def __init__(self, node: _Optional[_Union[Node, _Mapping]] = ...) -> None: ...

class SetDesiredStateRequest(_message.Message):
    __slots__ = ("nodes", "all_nodes", "resources")
    NODES_FIELD_NUMBER: _ClassVar[int]
    ALL_NODES_FIELD_NUMBER: _ClassVar[int]
    RESOURCES_FIELD_NUMBER: _ClassVar[int]
    nodes: _containers.RepeatedScalarFieldContainer[str]
    all_nodes: bool
    resources: _containers.RepeatedCompositeFieldContainer[_agent_pb2.Resource]
    def __init__(self, nodes: _Optional[_Iterable[str]] = ..., all_nodes: _Optional[bool] = ..., resources: _Optional[_Iterable[_Union[_agent_pb2.Resource, _Mapping]]] = ...) -> None: ...

class NodeRevision(_message.Message):
    __slots__ = ("node_id", "revision")
    NODE_ID_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    node_id: str
    revision: int
    def __init__(self, node_id: _Optional[str] = ..., revision: _Optional[int] = ...) -> None: ...

class SetDesiredStateResponse(_message.Message):
    __slots__ = ("revisions",)
    REVISIONS_FIELD_NUMBER: _ClassVar[int]
    revisions: _containers.RepeatedCompositeFieldContainer[NodeRevision]
    def __init__(self, revisions: _Optional[_Iterable[_Union[NodeRevision, _Mapping]]] = ...) -> None: ...

class GetNodeSummaryRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class GetNodeSummaryResponse(_message.Message):
    __slots__ = ("nodes_by_state", "connected_streams", "heartbeats_received", "acks_received", "controller_instance")
    class NodesByStateEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: int
        def __init__(self, key: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...
    NODES_BY_STATE_FIELD_NUMBER: _ClassVar[int]
    CONNECTED_STREAMS_FIELD_NUMBER: _ClassVar[int]
    HEARTBEATS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    ACKS_RECEIVED_FIELD_NUMBER: _ClassVar[int]
    CONTROLLER_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    nodes_by_state: _containers.ScalarMap[str, int]
    connected_streams: int
    heartbeats_received: int
    acks_received: int
    controller_instance: str
    def __init__(self, nodes_by_state: _Optional[_Mapping[str, int]] = ..., connected_streams: _Optional[int] = ..., heartbeats_received: _Optional[int] = ..., acks_received: _Optional[int] = ..., controller_instance: _Optional[str] = ...) -> None: ...
