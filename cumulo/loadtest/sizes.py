"""Object sizes for load tests: parsing ``4KiB``/``1MiB`` and size distributions.

A distribution draws each object's size from a :class:`random.Random` the runner owns,
so a seeded run draws the same sizes again.  Three shapes cover what benchmarks ask
for: one fixed size, a uniform range, and a list of sizes with weights (the shape of a
real workload's histogram, e.g. ``4KiB:80,1MiB:20``).
"""

from __future__ import annotations

import bisect
import itertools
import random
import re
from dataclasses import dataclass
from typing import Any, Protocol

from cumulo import errors

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

#: Unit suffixes, case-insensitive.  ``K``/``M``/``G`` alone are binary, as in ``dd``.
UNITS = {
    "": 1,
    "b": 1,
    "k": KIB,
    "kib": KIB,
    "kb": 1000,
    "m": MIB,
    "mib": MIB,
    "mb": 1000**2,
    "g": GIB,
    "gib": GIB,
    "gb": 1000**3,
}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_size(text: str, *, field: str = "size") -> int:
    """``"4KiB"`` -> 4096, ``"1MiB"`` -> 1048576, ``"1.5kB"`` -> 1500, ``"512"`` -> 512."""
    match = _SIZE.match(text)
    unit = match.group(2).lower() if match else ""
    if not match or unit not in UNITS:
        raise errors.InvalidArgument(
            f"not a size: {text!r}",
            field=field,
            hint="write a number with an optional unit: 512, 4KiB, 1MiB, 1.5MB",
        )
    value = float(match.group(1)) * UNITS[unit]
    if value != int(value):
        raise errors.InvalidArgument(f"not a whole number of bytes: {text!r}", field=field)
    return int(value)


def format_size(size: int) -> str:
    """The shortest exact binary form: 4096 -> ``4KiB``, 1500 -> ``1500B``."""
    for unit, factor in (("GiB", GIB), ("MiB", MIB), ("KiB", KIB)):
        if size and size % factor == 0:
            return f"{size // factor}{unit}"
    return f"{size}B"


class SizeDistribution(Protocol):
    """Where each new object's size comes from."""

    @property
    def max_size(self) -> int:
        """The largest size :meth:`sample` can return (the runner allocates one buffer)."""
        ...

    def sample(self, rng: random.Random) -> int:
        """One size in bytes, drawn with ``rng``."""
        ...

    def describe(self) -> dict[str, Any]:
        """A JSON-ready description for the result."""
        ...


@dataclass(frozen=True)
class FixedSize:
    size: int

    def __post_init__(self) -> None:
        if self.size < 0:
            raise errors.InvalidArgument("a size cannot be negative", field="size")

    @property
    def max_size(self) -> int:
        return self.size

    def sample(self, rng: random.Random) -> int:
        return self.size

    def describe(self) -> dict[str, Any]:
        return {"kind": "fixed", "size": self.size}


@dataclass(frozen=True)
class UniformSize:
    """Uniform over ``[low, high]``, both included."""

    low: int
    high: int

    def __post_init__(self) -> None:
        if not 0 <= self.low <= self.high:
            raise errors.InvalidArgument(
                f"size range {self.low}-{self.high} is empty", field="size_range"
            )

    @property
    def max_size(self) -> int:
        return self.high

    def sample(self, rng: random.Random) -> int:
        return rng.randint(self.low, self.high)

    def describe(self) -> dict[str, Any]:
        return {"kind": "uniform", "low": self.low, "high": self.high}


@dataclass(frozen=True)
class WeightedSizes:
    """One of ``sizes``, each with probability weight / sum of weights."""

    sizes: tuple[tuple[int, float], ...]

    def __post_init__(self) -> None:
        if not self.sizes or any(s < 0 or w < 0 for s, w in self.sizes):
            raise errors.InvalidArgument("sizes need size:weight pairs", field="sizes")
        if sum(w for _s, w in self.sizes) <= 0:
            raise errors.InvalidArgument("the size weights add up to zero", field="sizes")
        object.__setattr__(
            self, "_cumulative", list(itertools.accumulate(w for _s, w in self.sizes))
        )

    @property
    def max_size(self) -> int:
        return max(s for s, _w in self.sizes)

    def sample(self, rng: random.Random) -> int:
        cumulative: list[float] = self._cumulative  # type: ignore[attr-defined]
        point = rng.random() * cumulative[-1]
        index = bisect.bisect_right(cumulative, point)
        return self.sizes[min(index, len(self.sizes) - 1)][0]

    def describe(self) -> dict[str, Any]:
        return {"kind": "weighted", "sizes": [{"size": s, "weight": w} for s, w in self.sizes]}


def parse_sizes(text: str) -> WeightedSizes:
    """``"4KiB:80,1MiB:20"`` -> a :class:`WeightedSizes`; a missing weight counts 1."""
    pairs = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        size_text, _, weight_text = item.partition(":")
        try:
            weight = float(weight_text) if weight_text else 1.0
        except ValueError:
            raise errors.InvalidArgument(
                f"not a weight: {weight_text!r}", field="sizes", hint="write SIZE:WEIGHT,..."
            ) from None
        pairs.append((parse_size(size_text, field="sizes"), weight))
    return WeightedSizes(tuple(pairs))


def parse_size_range(text: str) -> UniformSize:
    """``"1KiB-64KiB"`` -> ``UniformSize(1024, 65536)``."""
    low, sep, high = text.partition("-")
    if not sep:
        raise errors.InvalidArgument(
            f"not a size range: {text!r}",
            field="size_range",
            hint="write LOW-HIGH, e.g. 1KiB-64KiB",
        )
    return UniformSize(parse_size(low, field="size_range"), parse_size(high, field="size_range"))
