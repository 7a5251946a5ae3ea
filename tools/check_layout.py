"""Enforce the import rules between Cumulo's packages (see docs/architecture.md).

Rules, each with its reason:

* ``agent`` never imports ``controller``: agents run on other machines and talk
  to the controller only over the AgentService stream.
* ``storage`` imports neither ``controller`` nor ``agent``: the object store is
  usable on its own.
* ``controller.api`` never imports ``controller.db`` or ``sqlalchemy``: servicers
  validate and delegate; SQL lives in the domain services.
* ``cumulo`` (the SDK) imports no server package; only ``cumulo.cli`` may import
  ``storage.ring`` (offline operator tooling that edits ring files).
* Outside ``_native`` (and tests and benchmarks) only the ``_native`` facade is
  imported, so the backend choice is made once.

Exit status 1 lists every violation as ``path:line: module imports X (rule)``.
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("controller", "agent", "storage", "cumulo", "_native")

# (importer prefix, forbidden prefix, allowed (importer, import) prefix pairs, reason)
RULES: list[tuple[str, str, tuple[tuple[str, str], ...], str]] = [
    ("agent", "controller", (), "agents reach the controller only over the stream"),
    ("storage", "controller", (), "the object store stands alone"),
    ("storage", "agent", (), "the object store stands alone"),
    ("controller.api", "controller.db", (), "servicers delegate; SQL lives in domain services"),
    ("controller.api", "sqlalchemy", (), "servicers delegate; SQL lives in domain services"),
    ("cumulo", "controller", (), "the SDK must not depend on server code"),
    ("cumulo", "agent", (), "the SDK must not depend on server code"),
    (
        "cumulo",
        "storage",
        (("cumulo.cli", "storage.ring"),),
        "the SDK must not depend on server code",
    ),
    (
        "",
        "_native._",
        (("_native", "_native."),),
        "import the _native facade, not an implementation",
    ),
    ("", "_native.checksum_py", (("_native", "_native."),), "import the _native facade"),
]


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(path: Path) -> Iterator[tuple[int, str]]:
    tree = ast.parse(path.read_text(), filename=str(path))
    package = (
        module_name(path) if path.name == "__init__.py" else module_name(path).rpartition(".")[0]
    )
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                target = ".".join([*base, node.module] if node.module else base)
            else:
                target = node.module or ""
            yield node.lineno, target
            for alias in node.names:
                yield node.lineno, f"{target}.{alias.name}"


def _matches(name: str, prefix: str) -> bool:
    if prefix == "":
        return True
    if prefix.endswith((".", "_")):
        return name.startswith(prefix)
    return name == prefix or name.startswith(prefix + ".")


def violations() -> list[str]:
    found = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if path.name.endswith(("_pb2.py", "_pb2_grpc.py")):
                continue
            importer = module_name(path)
            for lineno, target in imports(path):
                for owner, forbidden, allowed, reason in RULES:
                    if not _matches(importer, owner) or not _matches(target, forbidden):
                        continue
                    if any(_matches(importer, a) and _matches(target, b) for a, b in allowed):
                        continue
                    rel = path.relative_to(ROOT)
                    found.append(f"{rel}:{lineno}: {importer} imports {target} ({reason})")
    return sorted(set(found))


def main() -> int:
    problems = violations()
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
