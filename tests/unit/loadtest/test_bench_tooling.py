"""The comparison's arithmetic and the Swift all-in-one's config files (no Swift needed)."""

from __future__ import annotations

import configparser
from pathlib import Path
from typing import Any

from bench.objects_compare import TARGETS, summarize
from bench.swift_baseline.aio import SwiftAllInOne, SwiftConfig


def row(ops: float, mb: float, p99: float) -> dict[str, Any]:
    return {
        "ops": int(ops * 10),
        "errors": 0,
        "errors_by_kind": {},
        "ops_per_s": ops,
        "mb_per_s": mb,
        "p50_ms": p99 / 2,
        "p90_ms": p99 * 0.9,
        "p99_ms": p99,
        "max_ms": p99 * 1.2,
        "client_cpu_ms_per_op": 0.2,
    }


def test_ratios_means_and_targets() -> None:
    cases = {
        "put_4KiB_c32": {
            "swift": [row(50, 0.2, 1200), row(60, 0.25, 1000)],
            "cumulo": [row(300, 1.2, 300), row(260, 1.1, 340)],
        },
        "get_4KiB_c32": {"swift": [row(200, 0.8, 300)], "cumulo": [row(900, 3.6, 90)]},
        "put_1MiB_c8": {"swift": [row(40, 40, 500)], "cumulo": [row(130, 130, 200)]},
    }
    out = summarize(cases)
    put = out["cases"]["put_4KiB_c32"]
    assert put["swift"]["ops_per_s"] == 55 and put["cumulo"]["ops_per_s"] == 280
    assert put["swift"]["p99_ms"] == 1100 and put["cumulo"]["p99_ms"] == 320
    assert len(put["swift"]["rounds"]) == 2
    assert put["ratios"] == {"ops_per_s": 5.091, "mb_per_s": 5.111, "p99": 0.291}
    met = {(t["case"], t["metric"]): t["met"] for t in out["targets"]}
    assert met["put_4KiB_c32", "cumulo/swift ops_per_s"] is True
    assert met["put_4KiB_c32", "cumulo/swift p99_ms"] is True
    assert met["get_4KiB_c32", "cumulo/swift ops_per_s"] is False  # 4.5x
    assert met["get_4KiB_c32", "cumulo/swift p99_ms"] is True  # 0.3
    assert met["put_1MiB_c8", "cumulo/swift mb_per_s"] is True  # 3.25x
    assert met["get_1MiB_c32", "cumulo/swift mb_per_s"] is None  # not measured
    assert out["all_targets_met"] is False
    assert len(out["targets"]) == len(TARGETS)


def test_targets_null_without_cumulo() -> None:
    out = summarize({"put_4KiB_c32": {"swift": [row(50, 0.2, 1000)]}})
    assert out["cases"]["put_4KiB_c32"]["cumulo"] is None
    assert out["cases"]["put_4KiB_c32"]["ratios"]["ops_per_s"] is None
    assert {t["met"] for t in out["targets"]} == {None}
    assert out["all_targets_met"] is None


def test_swift_config_files(tmp_path: Path) -> None:
    ports = {"memcached": 1001, "proxy": 1002, "account": 1003, "container": 1004, "object": 1005}
    swift = SwiftAllInOne(tmp_path, SwiftConfig(workers=2, devices=4), ports=dict(ports))
    swift._write_config()
    etc = tmp_path / "etc"
    assert sorted(p.name for p in (tmp_path / "srv").iterdir()) == ["d1", "d2", "d3", "d4"]
    hashes = configparser.ConfigParser()
    hashes.read(etc / "swift.conf")
    assert hashes["swift-hash"]["swift_hash_path_prefix"]
    assert hashes["storage-policy:0"]["default"] == "yes"
    for server in ("account", "container", "object"):
        conf = configparser.ConfigParser()
        conf.read(etc / f"{server}-server.conf")
        assert conf["DEFAULT"]["workers"] == "2"
        assert conf["DEFAULT"]["mount_check"] == "false"
        assert conf["DEFAULT"]["bind_ip"] == "127.0.0.1"
        assert conf["DEFAULT"]["swift_dir"] == str(etc)
        assert conf["DEFAULT"]["bind_port"] == str(swift.ports[server])
        # Swift's durability defaults are kept: nothing about fsync is overridden.
        assert not any("fsync" in key for key in conf["DEFAULT"])
    proxy = configparser.ConfigParser()
    proxy.read(etc / "proxy-server.conf")
    assert proxy["DEFAULT"]["workers"] == "2"
    assert "tempauth" in proxy["pipeline:main"]["pipeline"].split()
    assert proxy["filter:tempauth"]["user_test_tester"] == "testing .admin"
    assert proxy["filter:cache"]["memcache_servers"] == f"127.0.0.1:{swift.ports['memcached']}"
    assert swift.ports == ports  # given ports are used, none picked (no sockets here)
