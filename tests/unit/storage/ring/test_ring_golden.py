"""Golden vectors: placement and lookups are frozen (see tests/golden/ring/regen.py).

A failure here means deployed clusters would move data or look names up elsewhere
after an upgrade.  If that is intended, regenerate the vectors and say why.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest

from tests.unit.storage.ring.ring_backends import BACKENDS, use_backend

GOLDEN = Path(__file__).resolve().parents[4] / "tests" / "golden" / "ring"


def load_regen():
    spec = importlib.util.spec_from_file_location("ring_golden_regen", GOLDEN / "regen.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("backend", BACKENDS)
def test_vectors_match(backend: str, monkeypatch: pytest.MonkeyPatch) -> None:
    use_backend(monkeypatch, backend)
    expected = json.loads((GOLDEN / "vectors.json").read_text())
    actual = load_regen().compute()
    assert actual["salt"] == expected["salt"]
    for got, want in zip(actual["steps"], expected["steps"], strict=True):
        assert got["step"] == want["step"]
        assert got["moved"] == want["moved"], got["step"]
        assert got["sha256"] == want["sha256"], got["step"]
        assert got["table"] == want["table"], got["step"]
    assert actual["lookups"] == expected["lookups"]
    assert actual["handoffs"] == expected["handoffs"]
