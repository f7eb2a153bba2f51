"""The zygote that probed the sandbox grades the first student (service.warm_workers): one torch
import fewer per class, and a dead one is never handed out."""

from __future__ import annotations

from autograder.sandbox.client import Zygote
from autograder.service import close_worker, warm_workers


def test_the_probing_zygote_is_handed_out_first_then_new_ones():
    probe = Zygote()
    make = warm_workers([probe])
    first, second = make(), make()
    try:
        assert first.zygote is probe
        assert second.zygote is not probe and second.zygote.alive()
    finally:
        close_worker(first)
        close_worker(second)


def test_a_dead_spare_is_replaced():
    dead = Zygote()
    dead.close()
    worker = warm_workers([dead])()
    try:
        assert worker.zygote is not dead and worker.zygote.alive()
    finally:
        close_worker(worker)
