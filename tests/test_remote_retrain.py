"""Retrains off the server's process: a stack advanced in blocks on Dask or Ray workers, or in
local worker processes, equals the stack trained here at once, and the service keeps its
dedup, cache and progress around it."""

from __future__ import annotations

import pickle

import pytest
from test_engine import assert_same_result

from lab.service import remote
from lab.service.retrain import RetrainService
from lab.training.config import RunConfig
from lab.training.engine import StackTrainer, train_stack

# a sampled run too: its generators must travel with the trainer
STACK = [RunConfig(hidden=8, steps=60, clip=5.0), RunConfig(hidden=8, steps=60, sampling=0.5)]


def test_a_trainer_pickled_between_blocks_gives_the_same_runs():
    trainer = StackTrainer(STACK)
    while not trainer.done:
        trainer = pickle.loads(pickle.dumps(remote.advance_block(trainer, 25)))
    assert len(pickle.dumps(trainer)) < 2_000_000  # the stream stays behind
    for a, b in zip(trainer.results(), train_stack(STACK), strict=True):
        assert_same_result(a, b)


def test_a_bad_address_is_a_clear_error():
    with pytest.raises(ValueError, match="LAB_RETRAIN_ADDRESS must be"):
        RetrainService(address="http://example")
    assert remote.parse("ray://head:10001") == ("ray", "ray://head:10001")
    assert remote.parse("tcp://10.0.0.1:8786") == ("dask", "tcp://10.0.0.1:8786")
    assert remote.parse(" process ") == ("process", None)


@pytest.mark.parametrize("kind", ["dask", "ray", "process"])
def test_the_service_on_a_local_cluster(kind, tmp_path):
    service = RetrainService(tmp_path, address=kind)
    try:
        job = service.submit(STACK)
        seen = []
        while not job.wait(0.05):
            seen.append(job.progress)
        assert job.state == "done", job.error
        assert any(0 < p < 1 for p in seen)  # progress came back between blocks
        for a, b in zip(job.results, train_stack(STACK), strict=True):
            assert_same_result(a, b)
        again = RetrainService(tmp_path, address=kind).submit(STACK)  # the same cache
        assert again.state == "done" and again.cached
    finally:
        service.cluster.close()
