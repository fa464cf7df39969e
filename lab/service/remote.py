"""Retrains trained outside the web server's process: on an existing Dask or Ray cluster, or
in worker processes of this machine.

Env LAB_RETRAIN_ADDRESS selects it: `ray://head:10001` (Ray Client), `ray` (a local Ray,
for tests), `tcp://scheduler:8786` (Dask), `dask` (a local Dask cluster, for tests),
`process` (LAB_MAX_TRAININGS worker processes on this machine, joblib's loky executor: the
steps and the end-of-run analyses no longer share the server's GIL with page scripts, for a
second torch process's memory; docs/performance.md measures both). Unset, the server trains
in its own threads. Everything else stays in the service (one training per
config, the cache, the limits, progress, partial curves, stopping an abandoned job): each
block of a stack's steps travels to a worker as a pickled `engine.StackTrainer` (weights,
recorders and their curves: tens of KB; the training stream is rebuilt there from the
corpus) and comes back, through joblib on the cluster's backend, as the precompute's stacks
do. A block trained there equals the block trained here, bit for bit (tested).
"""

from __future__ import annotations

import threading

import joblib

KINDS = ("dask", "ray", "process")
PROCESS_IDLE_S = 600  # a worker process with nothing to train exits after this (its memory)


def parse(address: str) -> tuple[str, str | None]:
    """(backend, address for its client) of a LAB_RETRAIN_ADDRESS; ValueError if unknown."""
    address = address.strip()
    if address in KINDS:
        return address, None  # a local cluster
    if address.startswith("ray://"):
        return "ray", address
    if address.startswith(("tcp://", "tls://")):
        return "dask", address
    raise ValueError(f"LAB_RETRAIN_ADDRESS must be ray://host:port, tcp://host:port, 'ray', "
                     f"'dask' or 'process', got {address!r}")


def advance_block(trainer, steps: int):
    """Run on a cluster worker: the trainer `steps` further (to its end if fewer are left)."""
    trainer.advance(steps)
    return trainer


class Cluster:
    """A connection to the cluster, made on first use and kept for the server's life."""

    def __init__(self, address: str, workers: int = 2):
        self.kind, self.address = parse(address)
        self.workers = workers  # process: how many worker processes (one training each)
        self._lock = threading.Lock()
        # dask: the Client (joblib's dask backend uses it); ray: True; process: the executor
        self._client = None

    def _connect(self) -> None:
        with self._lock:
            if self._client is not None:
                return
            if self.kind == "dask":
                from dask.distributed import Client, LocalCluster

                target = self.address or LocalCluster(n_workers=2, threads_per_worker=1)
                self._client = Client(target, set_as_default=True)
            else:
                import ray
                from ray.util.joblib import register_ray

                ray.init(address=self.address, ignore_reinit_error=True)
                register_ray()
                self._client = True

    def advance(self, trainer, steps: int):
        """The trainer, advanced `steps` on a worker of the cluster (a new object)."""
        if self.kind == "process":
            return self._executor().submit(advance_block, trainer, steps).result()
        self._connect()
        with joblib.parallel_config(backend=self.kind, n_jobs=-1):
            (out,) = joblib.Parallel(return_as="list")(
                [joblib.delayed(advance_block)(trainer, steps)])
        return out

    def _executor(self):
        """loky's reusable executor: the same worker processes block after block (torch
        imported and the corpus built once per worker), started on first use."""
        from joblib.externals.loky import get_reusable_executor

        self._client = get_reusable_executor(max_workers=self.workers, timeout=PROCESS_IDLE_S)
        return self._client

    def close(self) -> None:
        with self._lock:
            if self.kind == "process" and self._client is not None:
                self._client.shutdown(wait=True, kill_workers=True)
            elif self.kind == "dask" and self._client is not None:
                cluster = getattr(self._client, "cluster", None)
                self._client.close()
                if cluster is not None:
                    cluster.close()
            elif self._client is not None:
                import ray

                ray.shutdown()
            self._client = None
