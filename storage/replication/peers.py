"""Talking to other object servers: suffix hashes, entry lists, and moving versions.

:class:`PeerPool` keeps one channel per peer address (``ip:port`` from the ring)
with the storage credential.  :func:`push` sends one local version (object or
tombstone) to a peer device and :func:`pull` fetches one from it, both keeping the
version's original timestamp, so the object servers' newest-wins rule decides: a
version that is not newer than the receiver's changes nothing and counts as
confirmed (the receiver has it or something newer).

Contract of both: True means the receiver now holds that version or a newer one;
False means it could not be done now (the version changed under us, a peer failed)
and the next pass retries.  Neither raises for a peer's failure; a programming
error still raises.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from typing import Any

import grpc

from cumulo import errors
from cumulo.objectserver.v1 import replication_pb2 as rpb
from cumulo.objectserver.v1 import replication_pb2_grpc
from cumulo.rpc.status import error_from_rpc
from cumulo.rpc.tls import PLAINTEXT, Tls
from storage.object.client import Location, ObjectServerClient
from storage.object.server import DeviceSlot
from storage.object.store import ObjectName, ObjectNotFound, PartitionEntry, TimestampConflict
from storage.timestamp import Timestamp

log = logging.getLogger("cumulo.storage.replication")

#: FAILED_PRECONDITION reasons that mean "the receiver has this version or a newer one".
_ALREADY_THERE = frozenset({"NEWER_VERSION_EXISTS", "SAME_TIMESTAMP"})


class Peer:
    """One object server: its object API and its replication API, on one channel."""

    def __init__(self, address: str, credential: str, timeout: float, tls: Tls = PLAINTEXT) -> None:
        self.address = address
        # Over TLS, this server's certificate is its client certificate too: peers
        # with client_auth (``cumulo up --tls``) refuse a connection without one.
        self.objects = ObjectServerClient(address, credential, tls=tls)
        self.replication = replication_pb2_grpc.ReplicationServiceStub(self.objects.channel)
        self.timeout = timeout

    async def suffix_hashes(self, device: str, partition: int) -> dict[str, str]:
        """The peer's suffix hashes of ``partition`` on ``device`` (CumuloError on failure)."""
        request = rpb.GetSuffixHashesRequest(device=device, partition=partition)
        response = await self._call(self.replication.GetSuffixHashes, request)
        return dict(response.hashes)

    async def suffix_hashes_many(
        self, device: str, partitions: list[int]
    ) -> dict[int, dict[str, str]]:
        """The peer's suffix hashes of several partitions (CumuloError on failure)."""
        request = rpb.GetSuffixHashesBatchRequest(device=device, partitions=partitions)
        response = await self._call(self.replication.GetSuffixHashesBatch, request)
        return {part: dict(found.hashes) for part, found in response.partitions.items()}

    async def partitions(self, device: str) -> set[int]:
        """The partitions of the peer's ``device`` that hold anything (CumuloError on failure)."""
        request = rpb.ListPartitionsRequest(device=device)
        response = await self._call(self.replication.ListPartitions, request)
        return set(response.partitions)

    async def suffix_entries(
        self, device: str, partition: int, suffixes: list[str]
    ) -> list[PartitionEntry]:
        """The peer's current versions in ``suffixes`` (CumuloError on failure)."""
        request = rpb.ListSuffixEntriesRequest(
            device=device, partition=partition, suffixes=suffixes
        )
        response = await self._call(self.replication.ListSuffixEntries, request)
        return [
            PartitionEntry(
                name_hash=e.name_hash,
                name=ObjectName(e.account, e.container, e.object),
                timestamp=Timestamp.parse(e.timestamp),
                deleted=e.deleted,
            )
            for e in response.entries
        ]

    async def _call(self, method: Any, request: Any) -> Any:
        return await self.call(method, request)

    async def call(self, method: Any, request: Any) -> Any:
        """One unary call on this peer's channel with the credential and ``timeout``;
        a failure raises the matching ``CumuloError``."""
        try:
            return await method(request, metadata=self.objects.metadata, timeout=self.timeout)
        except grpc.RpcError as exc:
            raise error_from_rpc(exc) from None

    async def close(self) -> None:
        await self.objects.close()


class PeerPool:
    """Peers by address, created on first use; :meth:`close` closes them all."""

    def __init__(self, credential: str, timeout: float, tls: Tls = PLAINTEXT) -> None:
        self._credential = credential
        self._timeout = timeout
        self._tls = tls
        self._peers: dict[str, Peer] = {}

    def get(self, address: str) -> Peer:
        peer = self._peers.get(address)
        if peer is None:
            peer = self._peers[address] = Peer(address, self._credential, self._timeout, self._tls)
        return peer

    async def close(self) -> None:
        peers, self._peers = list(self._peers.values()), {}
        for peer in peers:
            await peer.close()


def _location(device: str, partition: int, name: ObjectName) -> Location:
    return Location(device, partition, name.account, name.container, name.object)


async def _run(slot: DeviceSlot, fn: Any, *args: Any) -> Any:
    return await asyncio.wrap_future(slot.submit(fn, *args))


def _next_piece(pieces: Iterator[tuple[bytes, int]]) -> bytes | None:
    for data, _xxh3 in pieces:
        return data
    return None


async def push(
    slot: DeviceSlot, partition: int, entry: PartitionEntry, peer: Peer, peer_device: str
) -> bool:
    """Send the local version ``entry`` to ``peer_device`` on ``peer``; see the module contract."""
    location = _location(peer_device, partition, entry.name)
    stamp = entry.timestamp.internal
    try:
        if entry.deleted:
            await asyncio.wait_for(peer.objects.delete_object(location, stamp), peer.timeout)
            return True
        reader = await _run(slot, slot.device.open, partition, entry.name)
    except errors.Conflict as exc:
        return exc.reason in _ALREADY_THERE
    except ObjectNotFound:
        return False  # changed since it was listed: the next pass sees the new state
    except (errors.CumuloError, TimeoutError) as exc:
        log.warning(
            "push of %s to %s/%s failed: %s", entry.name.path, peer.address, peer_device, exc
        )
        return False
    try:
        meta = reader.metadata
        if meta.timestamp != entry.timestamp:
            return False
        pieces = reader.iter_range(0, meta.size)

        async def body() -> AsyncIterator[bytes]:
            while True:
                data = await _run(slot, _next_piece, pieces)
                if data is None:
                    return
                yield data

        await peer.objects.put_object(
            location,
            stamp,
            body(),
            content_type=meta.content_type,
            metadata=meta.metadata,
            chunk_size=meta.chunk_size,
            compute_sha256=bool(meta.sha256),
            expected_size=meta.size,
            expected_md5=meta.etag,
        )
        return True
    except errors.Conflict as exc:
        return exc.reason in _ALREADY_THERE
    except errors.CumuloError as exc:
        log.warning(
            "push of %s to %s/%s failed: %s", entry.name.path, peer.address, peer_device, exc
        )
        return False
    finally:
        await _run(slot, reader.close)


async def pull(
    slot: DeviceSlot, partition: int, entry: PartitionEntry, peer: Peer, peer_device: str
) -> bool:
    """Fetch the peer's version ``entry`` into the local device; see the module contract."""
    device = slot.device
    try:
        if entry.deleted:
            await _run(slot, device.delete, partition, entry.name, entry.timestamp)
            return True
        header, body = await peer.objects.get_object(_location(peer_device, partition, entry.name))
    except TimestampConflict:
        return True
    except errors.CumuloError as exc:
        log.warning(
            "pull of %s from %s/%s failed: %s", entry.name.path, peer.address, peer_device, exc
        )
        return False
    meta = header.object
    try:
        writer = device.create_writer(
            partition,
            entry.name,
            Timestamp.parse(meta.timestamp),
            content_type=meta.content_type,
            metadata=dict(meta.metadata),
            chunk_size=meta.chunk_size,
            want_sha256=bool(meta.sha256),
        )
        try:
            async for piece in body:
                await _run(slot, writer.write, piece)
            await _run(
                slot,
                lambda: writer.commit(
                    expected_size=meta.size, expected_md5=meta.etag, expected_sha256=meta.sha256
                ),
            )
        finally:
            await _run(slot, writer.abort)
            aclose = getattr(body, "aclose", None)
            if aclose is not None:
                await aclose()
        return True
    except TimestampConflict:
        return True
    except errors.CumuloError as exc:
        log.warning(
            "pull of %s from %s/%s failed: %s", entry.name.path, peer.address, peer_device, exc
        )
        return False
