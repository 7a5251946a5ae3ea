"""Operations, mixes, phases, prefill and the key space."""

from __future__ import annotations

import random
from collections import Counter

import pytest

from cumulo import errors
from cumulo.loadtest.workload import (
    KeySpace,
    Mix,
    Op,
    PhaseSpec,
    default_prefill,
    parse_mix,
    parse_phases,
)


def test_parse_phases() -> None:
    assert parse_phases("put,get,HEAD, delete,list") == [
        Op.PUT,
        Op.GET,
        Op.HEAD,
        Op.DELETE,
        Op.LIST,
    ]
    with pytest.raises(errors.InvalidArgument):
        parse_phases("put,post")
    with pytest.raises(errors.InvalidArgument):
        parse_phases(",")


def test_mix_selection_follows_weights() -> None:
    mix = parse_mix("put=20,get=70,head=5,delete=5")
    rng = random.Random(11)
    n = 40000
    counts = Counter(mix.choose(rng) for _ in range(n))
    for op, share in ((Op.PUT, 0.20), (Op.GET, 0.70), (Op.HEAD, 0.05), (Op.DELETE, 0.05)):
        assert abs(counts[op] / n - share) < 0.015, (op, counts)
    assert Op.LIST not in counts
    assert mix.name == "mix(put=20,get=70,head=5,delete=5)"


def test_mix_merges_repeats_and_skips_zero() -> None:
    mix = parse_mix("get=1,get=1,put=0")
    assert mix.ops == (Op.GET,)
    assert mix.name == "get"
    rng = random.Random(1)
    assert {mix.choose(rng) for _ in range(100)} == {Op.GET}


@pytest.mark.parametrize("text", ["", "put=x", "put=0", "post=1", "put=-1"])
def test_mix_refuses(text: str) -> None:
    with pytest.raises(errors.InvalidArgument):
        parse_mix(text)


def test_phase_needs_count_or_duration() -> None:
    with pytest.raises(errors.InvalidArgument):
        PhaseSpec(Mix.single(Op.PUT))
    with pytest.raises(errors.InvalidArgument):
        PhaseSpec(Mix.single(Op.PUT), count=1, duration=1.0)
    with pytest.raises(errors.InvalidArgument):
        PhaseSpec(Mix.single(Op.PUT), count=1, concurrency=0)
    with pytest.raises(errors.InvalidArgument):
        PhaseSpec(Mix.single(Op.PUT), duration=0)
    assert PhaseSpec(Mix.single(Op.GET), count=3).name == "get"


def test_default_prefill() -> None:
    put = PhaseSpec(Mix.single(Op.PUT), count=10)
    get = PhaseSpec(Mix.single(Op.GET), count=10, concurrency=64)
    delete = PhaseSpec(Mix.single(Op.DELETE), count=5000)
    assert default_prefill([put, get, delete]) == 0
    assert default_prefill([get, put]) == 256
    assert default_prefill([delete]) == 5000
    assert default_prefill([PhaseSpec(Mix.single(Op.LIST), count=1)]) == 0
    assert default_prefill([PhaseSpec(parse_mix("put=1,get=1"), count=1)]) == 100
    assert default_prefill([PhaseSpec(parse_mix("put=1,list=1"), count=1)]) == 0


def test_key_space() -> None:
    keys = KeySpace("run/")
    names = [keys.new_name() for _ in range(5)]
    assert len(set(names)) == 5 and all(n.startswith("run/") for n in names)
    assert names == sorted(names)
    rng = random.Random(2)
    assert keys.pick(rng) is None and keys.claim(rng) is None
    for name in names:
        keys.add(name)
    keys.add(names[0])
    assert len(keys) == 5
    claimed = {keys.claim(rng) for _ in range(5)}
    assert claimed == set(names)
    assert len(keys) == 0 and keys.claim(rng) is None
    keys.add(names[1])
    keys.discard("missing")
    assert keys.names() == [names[1]]


def test_claim_skips_names_being_read() -> None:
    keys = KeySpace("r/")
    first, second = keys.new_name(), keys.new_name()
    keys.add(first)
    keys.add(second)
    rng = random.Random(4)
    reading = keys.pick(rng)
    assert reading is not None
    other = second if reading == first else first
    assert keys.claim(rng) == other
    assert keys.claim(rng) is None  # the last one is being read
    assert len(keys) == 1
    keys.release(reading)
    assert keys.claim(rng) == reading
