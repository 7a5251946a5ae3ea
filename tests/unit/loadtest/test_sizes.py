"""Size parsing and size distributions."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from cumulo import errors
from cumulo.loadtest.sizes import (
    FixedSize,
    UniformSize,
    WeightedSizes,
    format_size,
    parse_size,
    parse_size_range,
    parse_sizes,
)


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("4KiB", 4096),
        ("1MiB", 1048576),
        ("1mib", 1048576),
        ("4k", 4096),
        ("2GiB", 2 * 1024**3),
        ("1.5kB", 1500),
        ("1MB", 1_000_000),
        ("512", 512),
        ("512B", 512),
        (" 64 KiB ", 65536),
        ("0", 0),
    ],
)
def test_parse_size(text: str, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "KiB", "4XB", "-1KiB", "1.3B", "4 Ki B"])
def test_parse_size_refuses(text: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        parse_size(text)


def test_format_size_round_trips() -> None:
    for size in (0, 1, 1500, 4096, 65536, 1048576, 3 * 1024**3):
        assert parse_size(format_size(size)) == size
    assert format_size(4096) == "4KiB"
    assert format_size(1048576) == "1MiB"


def test_fixed() -> None:
    dist = FixedSize(4096)
    assert dist.sample(random.Random(1)) == 4096
    assert dist.max_size == 4096
    assert dist.describe() == {"kind": "fixed", "size": 4096}


def test_uniform_range_covers_both_ends() -> None:
    dist = parse_size_range("1KiB-4KiB")
    assert dist == UniformSize(1024, 4096)
    rng = random.Random(7)
    seen = [dist.sample(rng) for _ in range(20000)]
    assert min(seen) >= 1024 and max(seen) <= 4096
    assert min(seen) < 1100 and max(seen) > 4000
    assert UniformSize(5, 5).sample(rng) == 5
    assert dist.max_size == 4096


@pytest.mark.parametrize("text", ["4KiB", "4KiB-1KiB", "x-4KiB"])
def test_uniform_range_refuses(text: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        parse_size_range(text)


def test_weighted_follows_weights() -> None:
    dist = parse_sizes("4KiB:80,1MiB:20")
    assert dist == WeightedSizes(((4096, 80.0), (1048576, 20.0)))
    rng = random.Random(3)
    counts = Counter(dist.sample(rng) for _ in range(20000))
    assert set(counts) == {4096, 1048576}
    assert 0.77 < counts[4096] / 20000 < 0.83
    assert dist.max_size == 1048576


def test_weighted_zero_weight_never_drawn_and_default_weight() -> None:
    dist = parse_sizes("1KiB:0,2KiB")
    rng = random.Random(5)
    assert {dist.sample(rng) for _ in range(1000)} == {2048}


@pytest.mark.parametrize("text", ["", "4KiB:x", "4KiB:0", "4KiB:-1"])
def test_weighted_refuses(text: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        parse_sizes(text)


def test_seeded_draws_repeat() -> None:
    dist = parse_sizes("1KiB:1,2KiB:1,3KiB:1")
    first = [dist.sample(random.Random(42)) for _ in range(5)]
    again = [dist.sample(random.Random(42)) for _ in range(5)]
    assert first == again
