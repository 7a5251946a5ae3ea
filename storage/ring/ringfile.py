"""The on-disk format of ring files and builder files.

Both are one *container*::

    offset 0   magic      8 bytes   b"CUMRING\\x01" (ring) or b"CUMBLDR\\x01" (builder)
    offset 8   version    uint16    FORMAT_VERSION; a reader refuses a newer one
    offset 10  flags      uint16    0
    offset 12  body size  uint64    bytes after the 28-byte header
    offset 20  checksum   uint64    XXH3-64 of the body
    offset 28  body       zstd frame of: uint32 meta size, meta (UTF-8 JSON),
                                         then each array of meta["arrays"] in order,
                                         little-endian

All integers little-endian.  The checksum is verified before anything is
decompressed, so a truncated or corrupt file is refused with
:class:`RingFileError` and a reader keeps the ring it had.  Files are written to a
temporary name in the same directory, fsynced, renamed over the old file and the
directory fsynced, so a reader sees the old file or the new one, never a mix.
"""

from __future__ import annotations

import contextlib
import json
import os
import struct
import sys
import tempfile
import time
from array import array
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import xxhash
import zstandard

from cumulo.errors import InvalidArgument
from storage.ring.devices import (
    MAX_PART_POWER,
    MAX_REPLICAS,
    MIN_PART_POWER,
    MIN_REPLICAS,
    Device,
)

RING_MAGIC = b"CUMRING\x01"
BUILDER_MAGIC = b"CUMBLDR\x01"
FORMAT_VERSION = 1
HEADER = struct.Struct("<8sHHQQ")
#: Refuse to inflate more than this (a 2**24 x 16 table is 512 MiB).
MAX_BODY = 1 << 30


class RingFileError(InvalidArgument):
    """A ring or builder file is missing, truncated, corrupt or of another format."""

    default_reason = "BAD_RING_FILE"


@dataclass
class RingData:
    """Everything a ring file holds."""

    part_power: int
    replicas: int
    salt: bytes
    devices: list[Device | None]
    table: array
    version: int = 0
    created: float = field(default_factory=time.time)

    @property
    def parts(self) -> int:
        return 1 << self.part_power


def _little(values: array) -> bytes:
    if sys.byteorder == "big":
        values = array(values.typecode, values)
        values.byteswap()
    return values.tobytes()


def write_container(
    path: str | os.PathLike[str],
    magic: bytes,
    meta: dict[str, Any],
    arrays: list[tuple[str, array]],
) -> None:
    """Atomically write ``meta`` and ``arrays`` to ``path``."""
    meta = dict(meta, arrays=[[name, values.typecode, len(values)] for name, values in arrays])
    meta_bytes = json.dumps(meta, sort_keys=True, separators=(",", ":")).encode()
    pieces = [struct.pack("<I", len(meta_bytes)), meta_bytes]
    pieces.extend(_little(values) for _, values in arrays)
    body = zstandard.ZstdCompressor(level=3).compress(b"".join(pieces))
    header = HEADER.pack(magic, FORMAT_VERSION, 0, len(body), xxhash.xxh3_64_intdigest(body))
    target = Path(path)
    directory = target.parent if str(target.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=directory)
    try:
        os.fchmod(fd, 0o644)
        with os.fdopen(fd, "wb") as out:
            out.write(header)
            out.write(body)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def read_container(
    path: str | os.PathLike[str], magic: bytes, what: str
) -> tuple[dict[str, Any], dict[str, array]]:
    """Read and verify a container written by :func:`write_container`."""
    try:
        with open(path, "rb") as src:
            raw = src.read()
    except FileNotFoundError:
        raise RingFileError(f"{what} file {path} does not exist", reason="NOT_FOUND") from None
    except OSError as exc:
        raise RingFileError(f"cannot read {what} file {path}: {exc.strerror}") from None
    if len(raw) < HEADER.size:
        raise RingFileError(
            f"{what} file {path} is truncated ({len(raw)} bytes, less than a header)",
            hint="write it again; readers keep their current ring",
        )
    found, version, _flags, size, checksum = HEADER.unpack_from(raw)
    if found != magic:
        raise RingFileError(
            f"{path} is not a Cumulo {what} file (magic {found!r})",
            hint="ring files come from `cumulo ring rebalance`, builder files from `ring create`",
        )
    if version > FORMAT_VERSION:
        raise RingFileError(
            f"{what} file {path} has format {version}, newer than this Cumulo reads "
            f"({FORMAT_VERSION})",
            hint="upgrade Cumulo on this node",
        )
    body = memoryview(raw)[HEADER.size :]
    if len(body) != size:
        raise RingFileError(
            f"{what} file {path} is truncated or has trailing bytes: the header says "
            f"{size} body bytes, the file has {len(body)}",
            hint="write it again; readers keep their current ring",
        )
    if xxhash.xxh3_64_intdigest(body) != checksum:
        raise RingFileError(
            f"{what} file {path} is corrupt (checksum mismatch)",
            hint="write it again from the builder; readers keep their current ring",
        )
    try:
        data = zstandard.ZstdDecompressor().decompress(body, max_output_size=MAX_BODY)
        (meta_size,) = struct.unpack_from("<I", data)
        meta = json.loads(bytes(data[4 : 4 + meta_size]))
        at = 4 + meta_size
        arrays: dict[str, array] = {}
        for name, typecode, length in meta.pop("arrays"):
            values = array(typecode)
            nbytes = values.itemsize * length
            if at + nbytes > len(data):
                raise ValueError(f"array {name} runs past the end")
            values.frombytes(data[at : at + nbytes])
            if sys.byteorder == "big":
                values.byteswap()
            arrays[name] = values
            at += nbytes
    except (zstandard.ZstdError, ValueError, KeyError, TypeError, struct.error) as exc:
        raise RingFileError(f"{what} file {path} is corrupt ({exc})") from None
    return meta, arrays


def write_ring(path: str | os.PathLike[str], data: RingData) -> None:
    """Atomically write a ring file."""
    meta = {
        "kind": "ring",
        "part_power": data.part_power,
        "replicas": data.replicas,
        "salt": data.salt.hex(),
        "version": data.version,
        "created": data.created,
        "devices": [d.to_dict() if d is not None else None for d in data.devices],
    }
    write_container(path, RING_MAGIC, meta, [("table", data.table)])


def read_ring(path: str | os.PathLike[str]) -> RingData:
    """Read and verify a ring file (raises :class:`RingFileError`)."""
    meta, arrays = read_container(path, RING_MAGIC, "ring")
    try:
        data = RingData(
            part_power=int(meta["part_power"]),
            replicas=int(meta["replicas"]),
            salt=bytes.fromhex(meta["salt"]),
            devices=[Device.from_dict(d) if d is not None else None for d in meta["devices"]],
            table=arrays["table"],
            version=int(meta["version"]),
            created=float(meta["created"]),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise RingFileError(f"ring file {path} is corrupt (bad field {exc})") from None
    if not (
        MIN_PART_POWER <= data.part_power <= MAX_PART_POWER
        and MIN_REPLICAS <= data.replicas <= MAX_REPLICAS
    ):
        raise RingFileError(
            f"ring file {path} is corrupt: part power {data.part_power} and replicas "
            f"{data.replicas} are outside {MIN_PART_POWER}..{MAX_PART_POWER} and "
            f"{MIN_REPLICAS}..{MAX_REPLICAS}"
        )
    for index, dev in enumerate(data.devices):
        if dev is not None and dev.id != index:
            raise RingFileError(
                f"ring file {path} is corrupt: device {dev.id} is listed at position {index}"
            )
    if data.table.typecode != "H" or len(data.table) != data.replicas * data.parts:
        raise RingFileError(
            f"ring file {path} is corrupt: its table has {len(data.table)} entries, "
            f"not replicas x partitions = {data.replicas * data.parts}"
        )
    return data
