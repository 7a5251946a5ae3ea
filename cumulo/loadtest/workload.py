"""What a load test does: operations, weighted mixes, phases and the key space.

A :class:`Workload` is a list of :class:`PhaseSpec`; each phase runs one operation
(``--phases put,get``) or a weighted :class:`Mix` of them (``--mix put=20,get=70,...``)
from ``concurrency`` workers until a fixed ``count`` of operations has been issued or a
fixed ``duration`` has passed, whichever the phase names.  Every run stops by itself.

GET, HEAD and DELETE must target objects that exist: the :class:`KeySpace` remembers
every object this run stored (the PUT phases and the optional prefill), and a DELETE
claims its victim before it is sent, so two workers never delete the same object.
All names share one per-run prefix, so a LIST phase sees this run's objects only and
several runs can share a container.
"""

from __future__ import annotations

import bisect
import enum
import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from cumulo import errors
from cumulo.loadtest.sizes import FixedSize, SizeDistribution


class Op(enum.StrEnum):
    PUT = "put"
    GET = "get"
    HEAD = "head"
    DELETE = "delete"
    LIST = "list"

    @property
    def needs_object(self) -> bool:
        return self in (Op.GET, Op.HEAD, Op.DELETE)


def parse_op(text: str) -> Op:
    try:
        return Op(text.strip().lower())
    except ValueError:
        raise errors.InvalidArgument(
            f"unknown operation {text!r}",
            field="phases",
            hint="choose from " + ", ".join(op.value for op in Op),
        ) from None


@dataclass(frozen=True)
class Mix:
    """Operations with weights; :meth:`choose` draws one."""

    weights: tuple[tuple[Op, float], ...]

    def __post_init__(self) -> None:
        if not self.weights or any(w < 0 for _op, w in self.weights):
            raise errors.InvalidArgument("a mix needs op=weight pairs", field="mix")
        if sum(w for _op, w in self.weights) <= 0:
            raise errors.InvalidArgument("the mix's weights add up to zero", field="mix")
        object.__setattr__(
            self, "_cumulative", list(itertools.accumulate(w for _op, w in self.weights))
        )

    @classmethod
    def single(cls, op: Op) -> Mix:
        return cls(((op, 1.0),))

    @property
    def ops(self) -> tuple[Op, ...]:
        return tuple(op for op, weight in self.weights if weight > 0)

    @property
    def name(self) -> str:
        if len(self.ops) == 1:
            return self.ops[0].value
        return "mix(" + ",".join(f"{op.value}={w:g}" for op, w in self.weights) + ")"

    def choose(self, rng: random.Random) -> Op:
        cumulative: list[float] = self._cumulative  # type: ignore[attr-defined]
        index = bisect.bisect_right(cumulative, rng.random() * cumulative[-1])
        return self.weights[min(index, len(self.weights) - 1)][0]


def parse_mix(text: str) -> Mix:
    """``"put=20,get=70,head=5,delete=5"`` -> a :class:`Mix`."""
    pairs: dict[Op, float] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        op_text, sep, weight_text = item.partition("=")
        try:
            weight = float(weight_text) if sep else 1.0
        except ValueError:
            raise errors.InvalidArgument(
                f"not a weight: {weight_text!r}", field="mix", hint="write OP=WEIGHT,..."
            ) from None
        op = parse_op(op_text)
        pairs[op] = pairs.get(op, 0.0) + weight
    return Mix(tuple(pairs.items()))


def parse_phases(text: str) -> list[Op]:
    """``"put,get,delete"`` -> the operations in order (repeats allowed)."""
    ops = [parse_op(item) for item in text.split(",") if item.strip()]
    if not ops:
        raise errors.InvalidArgument("no phases given", field="phases")
    return ops


@dataclass(frozen=True)
class PhaseSpec:
    """One phase: what to run, how many workers, and when to stop."""

    mix: Mix
    concurrency: int = 8
    count: int | None = None
    duration: float | None = None
    sizes: SizeDistribution = field(default_factory=lambda: FixedSize(4096))
    name: str = ""

    def __post_init__(self) -> None:
        if (self.count is None) == (self.duration is None):
            raise errors.InvalidArgument(
                "a phase needs exactly one of count and duration", field="count"
            )
        if self.count is not None and self.count < 0:
            raise errors.InvalidArgument("count cannot be negative", field="count")
        if self.duration is not None and not self.duration > 0:
            raise errors.InvalidArgument("duration must be positive", field="duration")
        if self.concurrency < 1:
            raise errors.InvalidArgument("concurrency must be at least 1", field="concurrency")
        if not self.name:
            object.__setattr__(self, "name", self.mix.name)

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "mix": {op.value: w for op, w in self.mix.weights},
            "concurrency": self.concurrency,
            "count": self.count,
            "duration_s": self.duration,
            "sizes": self.sizes.describe(),
        }


@dataclass(frozen=True)
class Workload:
    """A whole run: phases in order, on one container, under one name prefix."""

    phases: tuple[PhaseSpec, ...]
    container: str = "bench"
    prefix: str = ""
    #: Objects stored before the first phase (0: none), with ``prefill_sizes``.
    prefill: int = 0
    prefill_sizes: SizeDistribution = field(default_factory=lambda: FixedSize(4096))
    #: Entries asked for per LIST operation (one LIST op = one page).
    list_limit: int = 1000
    seed: int | None = None
    #: Seconds each operation may take before it counts as an error (DEADLINE_EXCEEDED).
    op_timeout: float = 60.0
    #: After the last phase, delete every object this run stored and still knows of.
    cleanup: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "container": self.container,
            "prefix": self.prefix,
            "prefill": self.prefill,
            "prefill_sizes": self.prefill_sizes.describe() if self.prefill else None,
            "list_limit": self.list_limit,
            "seed": self.seed,
            "op_timeout_s": self.op_timeout,
            "cleanup": self.cleanup,
            "phases": [phase.describe() for phase in self.phases],
        }


def default_prefill(phases: list[PhaseSpec] | tuple[PhaseSpec, ...]) -> int:
    """Objects to store first so that early GET/HEAD/DELETE phases have targets.

    Nothing when a PUT phase runs before any phase that needs objects.  Otherwise
    enough for every DELETE a counted phase may issue, and never fewer than 100 or 4
    per worker - also for a mix that PUTs, so its reads do not start on an empty store.
    """
    need = 0
    for phase in phases:
        ops = phase.mix.ops
        if ops == (Op.PUT,):
            break
        if any(op.needs_object for op in ops):
            need = max(need, 100, 4 * phase.concurrency)
            if Op.DELETE in ops and phase.count is not None:
                need = max(need, phase.count)
    return need


class KeySpace:
    """Names of the objects this run stored and believes to exist.

    ``pick`` (for GET and HEAD) and ``claim`` (for DELETE, which removes the name at
    once) are O(1): names live in a list with an index for swap-removal.  A name being
    read (between ``pick`` and ``release``) is not claimed for a DELETE, so a mix never
    counts the race "read an object while this run deletes it" as a store's error.
    """

    #: Random draws ``claim`` makes before it gives up finding an object nobody reads.
    CLAIM_TRIES = 16

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self._names: list[str] = []
        self._index: dict[str, int] = {}
        self._counter = itertools.count()
        self._reading: dict[str, int] = {}

    def __len__(self) -> int:
        return len(self._names)

    def new_name(self) -> str:
        return f"{self.prefix}o{next(self._counter):010d}"

    def add(self, name: str) -> None:
        if name not in self._index:
            self._index[name] = len(self._names)
            self._names.append(name)

    def pick(self, rng: random.Random) -> str | None:
        """A random existing name, marked as being read until :meth:`release`."""
        if not self._names:
            return None
        name = self._names[rng.randrange(len(self._names))]
        self._reading[name] = self._reading.get(name, 0) + 1
        return name

    def release(self, name: str) -> None:
        left = self._reading.pop(name, 1) - 1
        if left > 0:
            self._reading[name] = left

    def claim(self, rng: random.Random) -> str | None:
        """A random existing name nobody reads, removed at once (None: none found)."""
        for _ in range(self.CLAIM_TRIES):
            if not self._names:
                return None
            name = self._names[rng.randrange(len(self._names))]
            if name not in self._reading:
                self.discard(name)
                return name
        return None

    def discard(self, name: str) -> None:
        index = self._index.pop(name, None)
        if index is None:
            return
        last = self._names.pop()
        if index < len(self._names):
            self._names[index] = last
            self._index[last] = index

    def names(self) -> list[str]:
        return list(self._names)
