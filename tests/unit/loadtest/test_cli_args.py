"""``cumulo bench objects`` argument parsing into a Workload (no network)."""

from __future__ import annotations

import pytest

from cumulo import errors
from cumulo.cli.bench import DEFAULT_COUNT, workload_from_args
from cumulo.cli.main import build_parser
from cumulo.loadtest.sizes import FixedSize, UniformSize, WeightedSizes
from cumulo.loadtest.workload import Op, Workload


def parse(*argv: str) -> Workload:
    args = build_parser().parse_args(["bench", "objects", *argv])
    return workload_from_args(args)


def test_defaults() -> None:
    workload = parse()
    assert [p.name for p in workload.phases] == ["put", "get"]
    assert all(p.count == DEFAULT_COUNT and p.duration is None for p in workload.phases)
    assert all(p.concurrency == 8 and p.sizes == FixedSize(4096) for p in workload.phases)
    assert workload.container == "bench"
    assert workload.prefix.startswith("bench-") and workload.prefix.endswith("/")
    assert workload.prefill == 0


def test_phases_sizes_and_stop() -> None:
    workload = parse(
        "--phases", "put,head,list,delete",
        "--size", "1MiB",
        "--concurrency", "32",
        "--duration", "2.5",
        "--container", "c1",
        "--prefix", "p/",
        "--list-limit", "50",
        "--seed", "7",
        "--cleanup",
    )  # fmt: skip
    assert [p.mix.ops for p in workload.phases] == [(Op.PUT,), (Op.HEAD,), (Op.LIST,), (Op.DELETE,)]
    assert all(p.duration == 2.5 and p.count is None for p in workload.phases)
    assert all(p.concurrency == 32 and p.sizes == FixedSize(1048576) for p in workload.phases)
    assert (workload.container, workload.prefix, workload.list_limit) == ("c1", "p/", 50)
    assert workload.seed == 7
    assert workload.cleanup is True
    assert parse().cleanup is False


def test_mix_and_weighted_sizes() -> None:
    workload = parse("--mix", "put=20,get=70,head=5,delete=5", "--sizes", "4KiB:80,1MiB:20")
    (phase,) = workload.phases
    assert phase.mix.ops == (Op.PUT, Op.GET, Op.HEAD, Op.DELETE)
    assert phase.sizes == WeightedSizes(((4096, 80.0), (1048576, 20.0)))


def test_size_range_and_prefill() -> None:
    workload = parse("--phases", "get", "--size-range", "1KiB-64KiB", "--count", "10")
    assert workload.phases[0].sizes == UniformSize(1024, 65536)
    assert workload.prefill == 100  # GET before any PUT: objects are stored first
    assert workload.prefill_sizes == UniformSize(1024, 65536)
    assert parse("--phases", "get", "--prefill", "3").prefill == 3


def test_json_and_endpoint_in_either_place() -> None:
    parser = build_parser()
    args = parser.parse_args(["--json", "bench", "objects", "--endpoint", "127.0.0.1:1"])
    assert args.json is True and args.object_endpoint == "127.0.0.1:1" and args.endpoint is None
    args = parser.parse_args(["--endpoint", "ctl:7700", "bench", "objects", "--json"])
    assert args.json is True and args.endpoint == "ctl:7700" and args.object_endpoint is None
    assert parser.parse_args(["bench", "objects"]).json is False


@pytest.mark.parametrize(
    "argv",
    [
        ["--phases", "put,post"],
        ["--mix", "put=0"],
        ["--size", "4XB"],
        ["--sizes", "4KiB:x"],
        ["--size-range", "4KiB"],
        ["--concurrency", "0"],
        ["--duration", "0"],
        ["--count", "-1"],
        ["--prefill", "-1"],
        ["--list-limit", "0"],
    ],
)
def test_bad_values_are_invalid_argument(argv: list[str]) -> None:
    with pytest.raises(errors.InvalidArgument):
        parse(*argv)


@pytest.mark.parametrize(
    "argv",
    [
        ["--phases", "put", "--mix", "put=1"],
        ["--size", "4KiB", "--sizes", "4KiB:1"],
        ["--count", "1", "--duration", "1"],
    ],
)
def test_exclusive_options(argv: list[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["bench", "objects", *argv])
