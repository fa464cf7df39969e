"""The committed database is reproducible: a stored run retrained alone gives the same numbers.

Slow (a full 30,000-step run, about a minute): `python -m pytest -m slow tests/test_reproduce.py`.
"""

from __future__ import annotations

import pytest

from lab.data.store import DEFAULT_DB, StoreUnavailable, open_reader
from lab.training.config import BASELINE


@pytest.mark.slow
def test_a_stored_run_trained_alone_matches_the_committed_database():
    from lab.training.engine import train_stack

    # a learning-rate arm that trains to the end (lr=0.1 diverges within 30 steps at batch 64,
    # and its NaN loss equals nothing), stored from a stack of 15 runs
    cfg = BASELINE.replace(lr=0.03)
    try:
        with open_reader(DEFAULT_DB) as store:
            if not store.has_run(cfg.run_id):
                pytest.skip("the committed database does not hold this config")
            stored = store.runs("learning_rate").set_index("run_id").loc[cfg.run_id]
            weights = store.weights(cfg.run_id)
    except StoreUnavailable as e:
        pytest.skip(str(e))
    result = train_stack([cfg])[0]
    assert result.final_val_loss == stored["final_val_loss"]
    assert result.weights == weights
