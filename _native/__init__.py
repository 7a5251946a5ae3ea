"""Facade over Cumulo's native hot paths.

Every native function has two implementations with identical results:

* ``_native/<name>.pyx`` compiled by Cython into ``_native._<name>`` (fast path), and
* ``_native/<name>_py.py``, the pure-Python twin, which is the reference and what
  type checkers see.

Import the functions from here, never from the implementation modules, so that the
choice is made once.  ``BACKEND`` is ``"cython"`` when every compiled module loaded
and ``"python"`` otherwise; ``FALLBACKS`` names the modules that fell back.
Setting ``CUMULO_NO_EXTENSIONS=1`` in the environment forces the pure twins.
"""

from __future__ import annotations

import importlib
import os
from types import ModuleType

#: Native modules, by stem; each has ``_<stem>`` (compiled) and ``<stem>_py`` (pure).
MODULES: tuple[str, ...] = ("checksum", "ring", "placement")

FORCED_PURE: bool = os.environ.get("CUMULO_NO_EXTENSIONS") == "1"
FALLBACKS: dict[str, str] = {}


def _load(stem: str) -> ModuleType:
    """Return the compiled module for ``stem`` if allowed and present, else its twin."""
    if not FORCED_PURE:
        try:
            return importlib.import_module(f"_native._{stem}")
        except ImportError as exc:
            FALLBACKS[stem] = str(exc)
    else:
        FALLBACKS[stem] = "CUMULO_NO_EXTENSIONS=1"
    return importlib.import_module(f"_native.{stem}_py")


_checksum = _load("checksum")
_ring = _load("ring")
_placement = _load("placement")

BACKEND: str = "python" if FALLBACKS else "cython"

chunk_digests = _checksum.chunk_digests
chunk_digests_into = _checksum.chunk_digests_into

RingIndex = _ring.RingIndex
name_hash = _ring.name_hash
NO_DEVICE: int = _ring.NO_DEVICE

count_replicas = _placement.count_replicas
count_dispersion = _placement.count_dispersion
gather_replicas = _placement.gather
place_replicas = _placement.place
repair_replicas = _placement.repair
finish_moves = _placement.finish


class NativeBackendError(RuntimeError):
    """Raised by :func:`require_compiled` when a compiled module did not load."""


def require_compiled() -> None:
    """Refuse to run on the pure-Python fallback (for production services)."""
    if FALLBACKS:
        detail = "; ".join(f"{name}: {why}" for name, why in sorted(FALLBACKS.items()))
        raise NativeBackendError(
            f"compiled extensions did not load ({detail}); rebuild with `pip install .` "
            "or unset CUMULO_NO_EXTENSIONS"
        )


__all__ = [
    "BACKEND",
    "FALLBACKS",
    "MODULES",
    "NO_DEVICE",
    "NativeBackendError",
    "RingIndex",
    "chunk_digests",
    "chunk_digests_into",
    "count_dispersion",
    "count_replicas",
    "finish_moves",
    "gather_replicas",
    "name_hash",
    "place_replicas",
    "repair_replicas",
    "require_compiled",
]
