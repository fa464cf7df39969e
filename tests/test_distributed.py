"""Sweeps on a distributed engine give the same database as the local backend."""

from __future__ import annotations

import importlib.util

import pytest

from lab.data.store import open_reader
from lab.precompute import precompute

SMALL = {"studies": ("initialization",), "seeds": (42,), "steps": 12, "log": lambda m: None}


def _contents(db) -> tuple:
    with open_reader(db) as store:
        runs = store.runs().sort_values(["study", "arm", "seed"])
        ids = runs["run_id"].tolist()
        curves = store.table("curves", ids)
        return (runs[["run_id", "study", "arm", "seed", "status", "final_val_loss"]]
                .to_dict("records"), curves.to_dict("records"))


@pytest.fixture(scope="module")
def local_db(tmp_path_factory):
    db = tmp_path_factory.mktemp("local") / "lab.duckdb"
    precompute(db, backend="local", jobs=1, **SMALL)
    return db


def test_dask_local_cluster_matches_local_backend(local_db, tmp_path):
    pytest.importorskip("distributed", reason="dask[distributed] is not installed")
    from dask.distributed import Client, LocalCluster

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, \
            Client(cluster) as client:
        db = tmp_path / "dask.duckdb"
        counts = precompute(db, backend="dask", address=client.scheduler.address, **SMALL)
        assert counts["trained"] == 3
    assert _contents(db) == _contents(local_db)


@pytest.mark.skipif(importlib.util.find_spec("ray") is None,
                    reason="ray is not installed here (pip install ray to run this test)")
def test_ray_matches_local_backend(local_db, tmp_path):
    db = tmp_path / "ray.duckdb"
    precompute(db, backend="ray", **SMALL)
    assert _contents(db) == _contents(local_db)
