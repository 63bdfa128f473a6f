"""The web worker stops on Ctrl-C whatever its main thread is doing at that moment."""

import logging
import os
import threading

from gunicorn.config import Config

from prmonitor.server import ThreadWorker, reachable_from_outside


def test_quit_while_the_main_thread_holds_the_pool_lock_still_exits():
    # The worker's main thread holds its pool's lock inside submit() (after each answer it hands
    # the connection's close to the pool); a signal's handler runs in that same thread, so one
    # that waits for the lock never returns. Here the test holds the lock as submit() would and
    # runs the handler beside it: it must exit at once, not wait for the lock.
    worker = ThreadWorker(0, os.getppid(), [], None, 30, Config(), logging.getLogger("test"))
    worker.tpool = worker.get_thread_pool()
    exited = threading.Event()

    def quit_():
        try:
            worker.handle_quit(None, None)
        except SystemExit:
            exited.set()

    with worker.tpool._shutdown_lock:
        handler = threading.Thread(target=quit_, daemon=True)
        handler.start()
        handler.join(timeout=5)
        assert exited.is_set(), "the quit handler waited for the pool's lock"
    assert worker.alive is False
    worker.tpool.shutdown()
    worker.tmp.close()


def test_which_bind_addresses_are_reachable_from_outside():
    assert reachable_from_outside(["0.0.0.0:3000"])
    assert reachable_from_outside(["[::]:3000"])
    assert reachable_from_outside(["192.0.2.7:80"])
    assert reachable_from_outside(["127.0.0.1:3000", "ci.example.com:3000"])
    assert not reachable_from_outside(["127.0.0.1:3000", "[::1]:3000", "localhost:3000"])
    assert not reachable_from_outside(["127.0.0.2:3000", "unix:/tmp/web.sock", "fd://3"])
    assert not reachable_from_outside(["[::1]", "tcp://127.0.0.1:3000", "LOCALHOST:3000"])
    assert not reachable_from_outside([])
