"""Repository-wide checks that also run in `make verify`: layout rules, fresh protobuf code."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tools"))

import check_layout  # noqa: E402
import config_docs  # noqa: E402


def test_package_import_rules_hold() -> None:
    assert check_layout.violations() == []


def test_layout_check_catches_a_forbidden_import(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "agent").mkdir()
    (tmp_path / "agent" / "bad.py").write_text("from controller.db import Database\n")
    (tmp_path / "controller" / "api").mkdir(parents=True)
    (tmp_path / "controller" / "api" / "x.py").write_text(
        textwrap.dedent(
            """
            from ..db import models
            import sqlalchemy
            """
        )
    )
    monkeypatch.setattr(check_layout, "ROOT", tmp_path)
    found = check_layout.violations()
    assert any("agent/bad.py:1" in line and "controller.db" in line for line in found)
    assert any("controller/api/x.py:2" in line and "controller.db" in line for line in found)
    assert any("controller/api/x.py:3" in line and "sqlalchemy" in line for line in found)


def test_generated_protobuf_code_is_current() -> None:
    pytest.importorskip("grpc_tools")
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "protogen.py"), "--check"],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr


def test_every_config_key_is_documented_and_the_table_is_current() -> None:
    assert config_docs.undocumented() == []
    doc = config_docs.DOC.read_text()
    table = doc[doc.index(config_docs.BEGIN) + len(config_docs.BEGIN) : doc.index(config_docs.END)]
    assert table == "\n" + config_docs.render() + "\n", "run `make docs`"
