"""Generate Python code from ``proto/`` (or check that the committed code is current).

The ``.proto`` files live in ``proto/cumulo/<domain>/v1/``; the generated modules are
committed beside the SDK as ``cumulo/<domain>/v1/<name>_pb2.py`` (+ ``.pyi`` and
``_pb2_grpc.py``) so ``pip install`` needs no code generator.  ``--check`` exits 1
and names the stale files when regeneration would change anything.
"""

from __future__ import annotations

import argparse
import filecmp
import shutil
import sys
import tempfile
from importlib import resources
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO_ROOT = ROOT / "proto"
INIT_TEXT = '"""Generated from proto/; do not edit (run `make proto`)."""\n'


def generate(out_dir: Path) -> list[Path]:
    """Run protoc over every .proto file into ``out_dir``; return generated files."""
    from grpc_tools import protoc

    protos = sorted(str(p.relative_to(PROTO_ROOT)) for p in PROTO_ROOT.rglob("*.proto"))
    include = str(resources.files("grpc_tools") / "_proto")
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")
    generated = [p for p in out_dir.rglob("*") if p.is_file()]
    # Every generated folder becomes a package.
    for folder in {p.parent for p in generated}:
        while folder != out_dir:
            init = folder / "__init__.py"
            if not init.exists() and folder.relative_to(out_dir).parts != ("cumulo",):
                init.write_text(INIT_TEXT)
            folder = folder.parent
    return sorted(p for p in out_dir.rglob("*") if p.is_file())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if generated code is stale")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        files = generate(out)
        stale = []
        for path in files:
            rel = path.relative_to(out)
            target = ROOT / rel
            if not target.exists() or not filecmp.cmp(path, target, shallow=False):
                stale.append(rel)
                if not options.check:
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copyfile(path, target)
        if options.check and stale:
            names = ", ".join(str(p) for p in stale)
            print(f"generated code is stale: {names}; run `make proto`", file=sys.stderr)
            return 1
        if not options.check:
            print(f"{len(stale)} generated file(s) updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
