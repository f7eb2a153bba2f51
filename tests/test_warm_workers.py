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


def test_the_setup_cells_imports_are_preloaded_in_every_child():
    from conftest import ROOT

    from autograder.layout import Course
    from autograder.sandbox.limits import Limits
    from autograder.service import preload_for

    preload = preload_for(Course(ROOT), "02-scaling-laws")
    assert "scipy.optimize" in preload and "transformers" not in preload  # its demos skip grading
    zygote = Zygote([*preload, "no_such_module_anywhere", "not a module; rm -rf /"])
    try:
        assert "not a module; rm -rf /" not in zygote.preload  # only dotted names reach argv
        session = zygote.spawn(Limits(), 60)
        try:
            err = session.exec_cell(
                "probe",
                "import sys\nassert 'scipy.optimize' in sys.modules, sorted(sys.modules)",
                60,
            )
            assert err is None, err
        finally:
            session.kill()
    finally:
        zygote.close()
