"""Engines: where shards run. Each maps the one shard function over tasks and yields results
as they finish, with a bounded number of tasks in flight (a task carries its shard's
sequence, so memory stays flat however long the genome is).

``local``
    ``workers`` processes on this machine (``concurrent.futures`` with spawned processes;
    in this process when ``workers`` is 1). The model is sent to each process once, when it
    starts. A process that dies (killed, out of memory) breaks the pool: the engine starts a
    new one and resubmits the shards that had not come back, at most :data:`MAX_RESTARTS`
    times.
``dask``
    ``dask.distributed``: a ``LocalCluster`` of ``workers`` single-threaded processes, or the
    cluster at ``scheduler``. The model is scattered to every worker once
    (``broadcast=True``), as one pickle (:class:`ShippedModel`). A worker lost mid-shard is
    handled by dask's scheduler, which reruns the shard elsewhere; a shard's result reaches the
    driver once, so nothing is written twice and nothing is missed.
"""
from __future__ import annotations

import logging
import os
import pickle
import uuid
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from typing import Iterable, Iterator

from wtko_captum.core.errors import InputError
from wtko_captum.scan._shard import ScanJob, ShardTask, run_shard

log = logging.getLogger("wtko_captum.scan")

ENGINES = ("local", "dask")
MAX_RESTARTS = 3

# the model and options of a local worker process, set once by its initializer
_WORKER: tuple = ()


def available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _die_with_parent() -> None:
    """Ask Linux to kill this worker when the driver dies (a ``kill -9`` of the driver must
    not leave workers computing for nobody)."""
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _init_worker(model, job: ScanJob) -> None:
    global _WORKER
    _die_with_parent()
    _WORKER = (model, job)


def _run_in_worker(task: ShardTask) -> dict:
    return run_shard(task, *_WORKER)


class ShippedModel:
    """A model that travels as one pickle and is unpickled once per worker.

    dask serializes an ``nn.Module`` generically, attribute by attribute, and its hook
    registries come back as plain dicts, on which torch cannot register hooks (DeepLIFT and
    captum's layer methods then fail); a pickle keeps the module as it was.
    """

    def __init__(self, model):
        self.blob = pickle.dumps(model)
        self._model = None

    def __getstate__(self):
        return {"blob": self.blob}

    def __setstate__(self, state):
        self.blob, self._model = state["blob"], None

    def get(self):
        if self._model is None:
            self._model = pickle.loads(self.blob)
        return self._model


def _run_shipped(task: ShardTask, shipped: ShippedModel, job: ScanJob) -> dict:
    return run_shard(task, shipped.get(), job)


class LocalEngine:
    """Processes on this machine."""

    name = "local"

    def __init__(self, workers: int | None = None):
        self.workers = int(workers or available_cpus())
        self.pool = None

    def describe(self) -> str:
        return f"local, {self.workers} process{'es' if self.workers > 1 else ''}"

    def start(self, model, job: ScanJob) -> None:
        self.model, self.job = model, job
        if self.workers > 1:
            self._new_pool()

    def _new_pool(self) -> None:
        import multiprocessing

        self.pool = ProcessPoolExecutor(self.workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_init_worker, initargs=(self.model, self.job))

    def map_unordered(self, tasks: Iterable[ShardTask]) -> Iterator[tuple[ShardTask, dict]]:
        if self.pool is None:
            for task in tasks:
                yield task, run_shard(task, self.model, self.job)
            return
        it = iter(tasks)
        pending: dict = {}
        restarts = 0

        def fill():
            while len(pending) < 2 * self.workers:
                task = next(it, None)
                if task is None:
                    return
                pending[self.pool.submit(_run_in_worker, task)] = task

        fill()
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            lost = []
            for fut in done:
                task = pending.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    lost.append(task)
                    continue
                yield task, result
            if lost:
                # every shard in flight on a broken pool fails: collect them all and start again
                wait(pending)
                lost += list(pending.values())
                pending.clear()
                restarts += 1
                if restarts > MAX_RESTARTS:
                    raise RuntimeError(f"local worker processes died {restarts} times; last shards lost: "
                                       f"{sorted(t.shard.index for t in lost)}")
                log.warning("a worker process died; restarting the pool and resubmitting %d shard(s)", len(lost))
                self.pool.shutdown(wait=False, cancel_futures=True)
                self._new_pool()
                for task in lost:
                    pending[self.pool.submit(_run_in_worker, task)] = task
            fill()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(wait=True, cancel_futures=True)
            self.pool = None


class DaskEngine:
    """dask.distributed: a LocalCluster, or an existing cluster at ``scheduler``."""

    name = "dask"

    def __init__(self, workers: int | None = None, scheduler: str | None = None):
        self.workers = workers
        self.scheduler = scheduler
        self.client = self.cluster = None

    def describe(self) -> str:
        return f"dask, scheduler {self.scheduler}" if self.scheduler else f"dask, LocalCluster of {self.workers} worker(s)"

    def start(self, model, job: ScanJob) -> None:
        from distributed import Client, LocalCluster

        if self.scheduler:
            try:
                self.client = Client(self.scheduler, timeout="30s")
            except (OSError, TimeoutError) as exc:
                raise InputError(f"cannot reach the dask scheduler: {exc}", value=self.scheduler) from None
        else:
            self.workers = int(self.workers or available_cpus())
            self.cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                                        dashboard_address=None, silence_logs=logging.WARNING)
            self.client = Client(self.cluster)
        self.job = job
        self.model = self.client.scatter(ShippedModel(model), broadcast=True, hash=False)
        self.prefix = f"wtko-scan-{uuid.uuid4().hex[:8]}"

    def _in_flight(self) -> int:
        threads = sum(w.get("nthreads", 1) for w in self.client.scheduler_info()["workers"].values())
        return max(2 * threads, 4)

    def map_unordered(self, tasks: Iterable[ShardTask]) -> Iterator[tuple[ShardTask, dict]]:
        from distributed import as_completed

        it = iter(tasks)
        pending: dict = {}
        queue = as_completed()
        limit = self._in_flight()

        def fill():
            while len(pending) < limit:
                task = next(it, None)
                if task is None:
                    return
                fut = self.client.submit(_run_shipped, task, self.model, self.job,
                                         key=f"{self.prefix}-{task.shard.index}", pure=False)
                pending[fut.key] = task
                queue.add(fut)

        fill()
        for fut in queue:
            task = pending.pop(fut.key)
            result = fut.result()
            fut.release()
            yield task, result
            fill()

    def close(self) -> None:
        if self.client is not None:
            self.client.close()
        if self.cluster is not None:
            self.cluster.close()
        self.client = self.cluster = None


def make_engine(engine: str, workers: int | None = None, scheduler: str | None = None):
    """The engine named ``engine`` (``local`` or ``dask``)."""
    if engine == "local":
        if scheduler:
            raise InputError("--scheduler needs --engine dask", value=scheduler)
        return LocalEngine(workers)
    if engine == "dask":
        if scheduler and workers:
            raise InputError("give --workers (a LocalCluster) or --scheduler (an existing cluster), not both")
        return DaskEngine(workers, scheduler)
    raise InputError(f"unknown engine {engine!r}; choose from {', '.join(ENGINES)}")
