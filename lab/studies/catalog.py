"""The study registry, built from the package: every module of lab.studies that declares a
`STUDY` is one study, ordered by its number. Adding a study is adding one module (and its
page file); nothing here lists them by hand.

Also the training plan the precompute follows: every study's arms and seeds.
"""

from __future__ import annotations

import importlib
import pkgutil

import lab.studies
from lab.studies.study import SEEDS, Arm, Study

__all__ = ["ARMS", "SEEDS", "STUDIES", "STUDY_IDS", "arm", "arms_of", "get", "planned_runs",
           "register", "unregister"]


def _discover() -> dict[str, Study]:
    found: list[Study] = []
    for info in pkgutil.iter_modules(lab.studies.__path__):
        module = importlib.import_module(f"lab.studies.{info.name}")
        study = getattr(module, "STUDY", None)
        if isinstance(study, Study):
            if study.id != info.name:
                raise ValueError(f"lab/studies/{info.name}.py declares study {study.id!r}")
            found.append(study)
    found.sort(key=lambda s: s.number)
    return {s.id: s for s in found}


STUDIES: dict[str, Study] = _discover()
STUDY_IDS: tuple[str, ...] = tuple(STUDIES)  # the lab's own studies (register adds none here)
ARMS: dict[str, tuple[Arm, ...]] = {sid: s.arms for sid, s in STUDIES.items()}


def register(study: Study) -> Study:
    """Add a study declared elsewhere (tests use this); its id and number must be new."""
    if study.id in STUDIES or study.number in {s.number for s in STUDIES.values()}:
        raise ValueError(f"study {study.id!r} (number {study.number}) is already registered")
    STUDIES[study.id] = study
    return study


def unregister(study_id: str) -> None:
    """Remove a study added with register."""
    STUDIES.pop(study_id, None)


def get(study_id: str) -> Study:
    """The study registered under study_id; an unknown id raises ValueError naming the known."""
    if study_id not in STUDIES:
        raise ValueError(f"unknown study {study_id!r}; known: {list(STUDIES)}")
    return STUDIES[study_id]


def arms_of(study_id: str) -> tuple[Arm, ...]:
    """The arms of a study; an unknown id raises ValueError naming the known ones."""
    return get(study_id).arms


def arm(study_id: str, key: str) -> Arm:
    """One arm of a study; an unknown study or key raises ValueError."""
    return get(study_id).arm(key)


def planned_runs(studies=STUDY_IDS, seeds=SEEDS, steps: int | None = None):
    """Every (study, arm key, seed, config) the precompute must have; configs may repeat."""
    return [(s, a.key, seed, a.config(seed, steps))
            for s in studies for a in arms_of(s) for seed in seeds]
