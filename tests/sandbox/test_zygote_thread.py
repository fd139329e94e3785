"""A zygote outlives the thread that started it.

The zygote asks to be killed when its parent dies (PR_SET_PDEATHSIG), which Linux ties to the parent
*thread*. A batch slot or a Dask task starts the warm sandbox on a short-lived thread; the zygote must not
die with that thread (it did, and stayed a zombie of the grader until the process ended).
"""

from __future__ import annotations

import threading
import time

import psutil

from grader.sandbox.client import Sandbox


def test_a_sandbox_started_on_a_thread_survives_the_thread() -> None:
    box: list[Sandbox] = []

    def slot() -> None:
        box.append(Sandbox(isolation="none"))
        time.sleep(1.5)  # the zygote is up (its first act is PR_SET_PDEATHSIG) before the thread ends

    t = threading.Thread(target=slot)
    t.start()
    t.join()
    time.sleep(0.5)
    sb = box[0]
    try:
        assert sb.zygote is not None
        pid = sb.zygote.proc.pid
        assert psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
        assert sb.zygote.alive()
    finally:
        sb.close()
