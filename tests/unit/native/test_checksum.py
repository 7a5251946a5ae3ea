"""Chunk checksums: both implementations, identical results, and the right one loaded."""

from __future__ import annotations

import os
from array import array
from types import ModuleType

import pytest
import xxhash
from hypothesis import given, settings
from hypothesis import strategies as st

import _native
from _native import checksum_py


def _implementations() -> list[ModuleType]:
    impls = [checksum_py]
    if os.environ.get("CUMULO_NO_EXTENSIONS") != "1":
        from _native import _checksum  # compiled; must exist when extensions are on

        impls.append(_checksum)
    return impls


IMPLS = _implementations()
IDS = [m.__name__ for m in IMPLS]


def test_compiled_backend_loaded_unless_disabled() -> None:
    if os.environ.get("CUMULO_NO_EXTENSIONS") == "1":
        assert _native.BACKEND == "python"
        assert "checksum" in _native.FALLBACKS
    elif os.environ.get("CUMULO_REQUIRE_EXTENSIONS") == "1":
        assert _native.BACKEND == "cython", f"fell back: {_native.FALLBACKS}"
        assert _native.chunk_digests.__module__ != checksum_py.__name__


def test_require_compiled_matches_backend() -> None:
    if _native.BACKEND == "cython":
        _native.require_compiled()
    else:
        with pytest.raises(_native.NativeBackendError, match="did not load"):
            _native.require_compiled()


@pytest.mark.parametrize("impl", IMPLS, ids=IDS)
def test_digests_match_xxh3_of_each_chunk(impl: ModuleType) -> None:
    data = os.urandom(10_000)
    expected = [xxhash.xxh3_64_intdigest(data[i : i + 4096]) for i in range(0, 10_000, 4096)]
    assert impl.chunk_digests(data, 4096) == expected
    assert len(expected) == 3  # two full chunks and a short tail


@pytest.mark.parametrize("impl", IMPLS, ids=IDS)
def test_empty_buffer_has_no_chunks(impl: ModuleType) -> None:
    assert impl.chunk_digests(b"", 1024) == []


@pytest.mark.parametrize("impl", IMPLS, ids=IDS)
@pytest.mark.parametrize("size", [0, -1])
def test_chunk_size_must_be_positive(impl: ModuleType, size: int) -> None:
    with pytest.raises(ValueError, match="positive"):
        impl.chunk_digests(b"abc", size)


@pytest.mark.parametrize("impl", IMPLS, ids=IDS)
def test_accepts_bytearray_and_memoryview(impl: ModuleType) -> None:
    data = bytearray(os.urandom(3000))
    assert impl.chunk_digests(data, 1000) == impl.chunk_digests(memoryview(data), 1000)
    assert impl.chunk_digests(memoryview(data)[1000:], 1000) == impl.chunk_digests(
        bytes(data[1000:]), 1000
    )


@pytest.mark.parametrize("impl", IMPLS, ids=IDS)
def test_into_writes_the_same_digests(impl: ModuleType) -> None:
    data = os.urandom(5000)
    out = array("Q", bytes(8 * 8))
    count = impl.chunk_digests_into(data, 1024, out)
    assert count == 5
    assert list(out[:count]) == impl.chunk_digests(data, 1024)
    with pytest.raises(ValueError, match="at least 5"):
        impl.chunk_digests_into(data, 1024, array("Q", [0, 0]))
    with pytest.raises(ValueError):
        impl.chunk_digests_into(data, 1024, array("I", [0] * 8))


@settings(max_examples=200, deadline=None)
@given(data=st.binary(max_size=5000), chunk_size=st.integers(min_value=1, max_value=700))
def test_implementations_agree(data: bytes, chunk_size: int) -> None:
    results = [impl.chunk_digests(data, chunk_size) for impl in IMPLS]
    assert all(result == results[0] for result in results)
    assert len(results[0]) == -(-len(data) // chunk_size)


@pytest.mark.skipif(os.environ.get("CUMULO_NO_EXTENSIONS") == "1", reason="compiled module off")
def test_every_runnable_xxh3_build_agrees_with_xxhash() -> None:
    from _native import _checksum

    order = ["portable", "sse2", "avx2", "avx512"]
    assert _checksum.XXH3_VARIANT in order
    runnable = order[: order.index(_checksum.XXH3_VARIANT) + 1]
    for size in (0, 1, 16, 17, 128, 129, 240, 241, 1024, 100_000):
        data = os.urandom(size)
        for variant in runnable:
            assert _checksum._variant_digest(variant, data) == xxhash.xxh3_64_intdigest(data)
    with pytest.raises(ValueError, match="unknown variant"):
        _checksum._variant_digest("neon", b"x")


@pytest.mark.parametrize("impl", IMPLS, ids=IDS)
def test_digests_agree_on_both_sides_of_the_gil_threshold(impl: ModuleType) -> None:
    """The compiled module hashes small buffers holding the GIL and large ones without
    it (NOGIL_MIN_BYTES): both paths, and the edge, give xxhash's digests."""
    limit = 64 * 1024
    for length in (1, limit - 1, limit, limit + 1, 4 * limit + 3):
        data = os.urandom(length)
        expected = [xxhash.xxh3_64_intdigest(data[i : i + 4096]) for i in range(0, length, 4096)]
        assert impl.chunk_digests(data, 4096) == expected, length
        out = array("Q", [0] * len(expected))
        assert impl.chunk_digests_into(data, 4096, out) == len(expected)
        assert list(out) == expected, length
    if impl.__name__.endswith("_checksum"):
        assert limit == impl.NOGIL_MIN_BYTES
