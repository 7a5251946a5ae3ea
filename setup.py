"""Build script for Cumulo's Cython extensions.

Everything declarative lives in pyproject.toml; this file only exists because the
compiled hot paths in ``_native/`` need an ``ext_modules`` list.  Every
``_native/<name>.pyx`` becomes the extension ``_native._<name>``; its pure-Python
twin is ``_native/<name>_py.py``.

Set ``CUMULO_NO_EXTENSIONS=1`` at build time to skip compilation (the pure twins
are then used at run time).
"""

from __future__ import annotations

import os
from pathlib import Path

from setuptools import Extension, setup

ROOT = Path(__file__).parent
NATIVE = ROOT / "_native"


#: Hand-written C compiled into an extension beside its .pyx, by stem.
C_SOURCES: dict[str, list[str]] = {
    # XXH3 built per x86 vector extension and picked at run time (see the header).
    "checksum": sorted(str(p.relative_to(ROOT)) for p in (NATIVE / "csrc").glob("xxh3_*.c")),
}


def native_extensions() -> list[Extension]:
    if os.environ.get("CUMULO_NO_EXTENSIONS") == "1":
        return []
    from Cython.Build import cythonize

    extensions = [
        Extension(
            f"_native._{pyx.stem}",
            [f"_native/{pyx.name}", *C_SOURCES.get(pyx.stem, [])],
            # xxhash.h (libxxhash-dev) is compiled inline: no run-time library needed.
            define_macros=[("XXH_INLINE_ALL", "1")],
            extra_compile_args=["-O3"],
        )
        for pyx in sorted(NATIVE.glob("*.pyx"))
    ]
    return cythonize(
        extensions,
        language_level=3,
        compiler_directives={"boundscheck": False, "wraparound": False, "cdivision": True},
    )


setup(ext_modules=native_extensions())
