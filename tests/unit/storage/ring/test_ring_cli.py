"""``cumulo ring ...`` end to end on temporary files (no cloud, no sockets)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cumulo.cli.main import main
from storage.ring import Ring, RingBuilder


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def make_cluster(capsys: pytest.CaptureFixture[str], builder: str) -> None:
    assert (
        run(
            capsys,
            "ring",
            "create",
            builder,
            "--part-power",
            "8",
            "--replicas",
            "3",
            "--min-part-hours",
            "0",
        )[0]
        == 0
    )
    for zone, servers, weight in ((1, 2, "4000"), (2, 2, "4000"), (3, 1, "8000")):
        for s in range(servers):
            for d in range(4):
                code, _, err = run(
                    capsys,
                    "ring",
                    "add",
                    builder,
                    "--zone",
                    str(zone),
                    "--ip",
                    f"10.0.{zone}.{s + 1}",
                    "--port",
                    "7720",
                    "--device",
                    f"d{d}",
                    "--weight",
                    weight,
                )
                assert code == 0, err


def test_operator_workflow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    builder = str(tmp_path / "object.builder")
    make_cluster(capsys, builder)
    code, out, _ = run(capsys, "ring", "rebalance", builder)
    assert code == 0 and "balance 0.00%" in out and "dispersion 0.00%" in out
    ring_file = tmp_path / "object.ring"
    assert Ring(ring_file).version == 1

    assert run(capsys, "ring", "remove", builder, "0")[0] == 0
    code, out, _ = run(
        capsys, "--json", "ring", "rebalance", builder, "--dry-run", "--bytes-used", "3000000"
    )
    dry = json.loads(out)
    assert dry["dry_run"] and dry["ring"] is None and dry["moved_replicas"] == 32
    assert dry["moved_bytes"] == 3000000 * 32 // 768
    assert Ring(ring_file).version == 1  # the dry run wrote nothing
    assert RingBuilder.load(builder).version == 1

    code, out, _ = run(capsys, "ring", "rebalance", builder, "--json")
    result = json.loads(out)
    assert result["report"]["dispersion"] == 0 and result["moved_replicas"] == 32
    assert any("zone r1z1" in note for note in result["report"]["notes"])
    assert Ring(ring_file).version == 2

    code, out, _ = run(capsys, "ring", "set-weight", builder, "5", "0")
    assert code == 0 and "weight 0" in out
    code, out, _ = run(capsys, "ring", "show", builder)
    assert code == 0 and "ID" in out and "BALANCE%" in out
    code, out, _ = run(capsys, "ring", "show", str(ring_file), "--json")
    assert json.loads(out)["kind"] == "ring"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            [
                "add",
                "--zone",
                "1",
                "--ip",
                "10.0.0.1",
                "--port",
                "1",
                "--device",
                "x",
                "--weight",
                "-1",
            ],
            "weight must be 0 or more",
        ),
        (
            [
                "add",
                "--zone",
                "1",
                "--ip",
                "10.0.1.1",
                "--port",
                "7720",
                "--device",
                "d0",
                "--weight",
                "1",
            ],
            "already in the ring",
        ),
        (["remove", "99"], "device 99 is not in the ring"),
    ],
)
def test_errors_print_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    builder = str(tmp_path / "object.builder")
    make_cluster(capsys, builder)
    code, _, err = run(capsys, "ring", argv[0], builder, *argv[1:])
    assert code == 1 and message in err and err.count("\n") == 1


def test_create_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    builder = str(tmp_path / "b.builder")
    code, _, err = run(capsys, "ring", "create", builder, "--part-power", "40", "--replicas", "3")
    assert code == 1 and "partition power" in err
    code, _, err = run(capsys, "ring", "create", builder, "--part-power", "8", "--replicas", "3")
    assert code == 0
    code, _, err = run(capsys, "ring", "rebalance", builder)
    assert code == 1 and "3 replicas need at least 3 devices" in err
    code, _, err = run(capsys, "ring", "create", builder, "--part-power", "8", "--replicas", "3")
    assert code == 1 and "exists already" in err
    (tmp_path / "junk").write_bytes(b"junk")
    code, _, err = run(capsys, "ring", "show", str(tmp_path / "junk"))
    assert code == 1 and "neither a Cumulo ring file nor a builder file" in err


def test_rebalance_says_when_min_part_hours_held_moves_back(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    builder = str(tmp_path / "object.builder")
    make_cluster(capsys, builder)
    assert run(capsys, "ring", "rebalance", builder)[0] == 0
    state = RingBuilder.load(builder)
    state.min_part_hours = 24
    for p in range(state.parts):
        state.last_moved[p] = 2**32 - 1  # moved "in the future": nothing may move now
    state.save(builder)
    assert run(capsys, "ring", "set-weight", builder, "3", "0")[0] == 0
    code, out, _ = run(capsys, "ring", "rebalance", builder)
    assert code == 0 and "rebalance again later" in out
    code, out, _ = run(capsys, "ring", "rebalance", builder, "--override-min-part-hours")
    assert code == 0 and "rebalance again later" not in out and "balance 0.00%" in out
