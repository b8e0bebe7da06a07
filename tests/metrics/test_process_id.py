"""prometheus-client's multiprocess values learn their process's id from us without asking the kernel each time."""

from __future__ import annotations

import os

from musicstore.common.metrics import process_id


def test_the_process_id_is_this_processs() -> None:
    assert process_id() == os.getpid()


def test_a_forked_child_has_its_own_process_id_and_not_its_parents() -> None:
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write_end, f"{process_id()} {os.getpid()}".encode())
        os._exit(0)
    os.close(write_end)
    os.waitpid(pid, 0)
    with os.fdopen(read_end) as child:
        seen, actual = child.read().split()
    assert seen == actual == str(pid)
