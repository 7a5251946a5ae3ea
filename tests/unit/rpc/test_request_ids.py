"""Generated request ids: unique within a process and across a fork, 32 hex digits."""

from __future__ import annotations

import os
import re

from cumulo.rpc.interceptors import _SANE_REQUEST_ID, _new_request_id


def test_ids_are_unique_hex_and_sane() -> None:
    ids = [_new_request_id() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) and _SANE_REQUEST_ID.match(i) for i in ids)


def test_a_forked_child_does_not_repeat_its_parents_ids() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its next ids, then leave without running pytest's teardown
        os.close(read_end)
        os.write(write_end, " ".join(_new_request_id() for _ in range(3)).encode())
        os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        child = pipe.read().decode().split()
    os.waitpid(pid, 0)
    parent = [_new_request_id() for _ in range(3)]
    assert len(child) == 3
    assert child[0][:16] != parent[0][:16]  # a new random prefix after the fork
    assert not set(child) & set(parent)
