"""A run's steps live and die with the run's process. Killed alone (``kill -9``, an OOM kill), the
run's process would leave its steps storing hours with nobody to record them, and the run STARTED
forever. So every step process exits when its parent is gone (``exit_with_run``), and the run
records its process (host and pid) so the ``dead_runs`` sensor can mark the run failed and its
hours get healed. Runs on other hosts are left to their deployment's run monitoring.
"""

import multiprocessing
import os
import socket
import threading
import time

from dagster import DagsterInstance, DagsterRun, DagsterRunStatus, InitResourceContext, RunsFilter

RUN_PROCESS_TAG = "binance_assets/run_process"  # "host:pid" of the process that runs the run
WATCH_INTERVAL_S = 0.5
_watching = False


def exit_with_run(context: InitResourceContext) -> None:
    """In a step process of its own: record the run's process on the run, and exit when it dies."""
    global _watching
    parent = multiprocessing.parent_process()
    if parent is None or _watching or context.run is None or context.instance is None:
        return  # in the run's own process (in-process execution): nothing to watch
    context.instance.add_run_tags(context.run.run_id, {RUN_PROCESS_TAG: f"{socket.gethostname()}:{parent.pid}"})
    threading.Thread(target=_exit_when_orphaned, args=(os.getppid(),), daemon=True, name="exit-with-run").start()
    _watching = True


def _exit_when_orphaned(parent_pid: int) -> None:
    while os.getppid() == parent_pid:
        time.sleep(WATCH_INTERVAL_S)
    os._exit(70)  # the run's process is gone: what this step has stored stays, nothing more is


def dead_runs(instance: DagsterInstance) -> list[DagsterRun]:
    """STARTED runs of this host whose recorded process no longer exists."""
    host = socket.gethostname()
    dead = []
    for record in instance.get_run_records(RunsFilter(statuses=[DagsterRunStatus.STARTED])):
        run_host, _, pid = record.dagster_run.tags.get(RUN_PROCESS_TAG, "").rpartition(":")
        if run_host == host and pid.isdigit() and not _alive(int(pid)):
            dead.append(record.dagster_run)
    return dead


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
