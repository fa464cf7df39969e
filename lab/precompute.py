"""Train every study's runs and write them to the DuckDB store: `python -m lab.precompute`.

Resumable: each finished run is written in its own transaction as soon as its stack
returns, and a re-run trains only the configs not yet stored (a config shared by several
studies is trained once). Stacks run through joblib: locally (the default) or on an
existing Dask or Ray cluster (--backend).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from lab.data.store import DEFAULT_DB, open_writer
from lab.studies.catalog import SEEDS, STUDY_IDS, arms_of, planned_runs
from lab.training.config import RunConfig
from lab.training.stacks import make_tasks, stack_cost

NOVEL_WORD_STUDY = "novel_word"


STACK_PROGRESS_EVERY = 2000  # a worker reports its stack's step this often (a stack takes minutes)


def train_task(configs: list[RunConfig]):
    """A joblib task: train one stack in a worker (one torch thread, as train_stack sets).

    Local workers share the parent's stderr, so their step lines land in the same log."""
    from lab.training.engine import keep_freed_memory, train_stack

    keep_freed_memory()  # a worker process only trains
    c = configs[0]

    def report(st) -> None:
        print(f"{time.strftime('%H:%M:%S')}   stack H={c.hidden} seq_len={c.seq_len} "
              f"x{len(configs)}: step {st.step:,}/{st.steps:,}", file=sys.stderr, flush=True)

    return train_stack(configs, progress=report, progress_every=STACK_PROGRESS_EVERY)


@contextmanager
def parallel_backend(name: str, address: str | None, jobs: int):
    """joblib's backend for the stacks: local processes, or an existing Dask / Ray cluster.
    Yields the `return_as` the backend supports: stacks as they finish (each written to the
    store at once, so a stopped run resumes), except on Ray, whose joblib backend hands back
    no generator ("list": every stack is written when the last one finishes)."""
    import joblib

    if name == "local":
        with joblib.parallel_config(backend="loky", n_jobs=jobs):
            yield "generator_unordered"
    elif name == "dask":
        from dask.distributed import Client, LocalCluster

        # joblib's dask backend uses the current Client; without an address, a local cluster
        cluster = None if address else LocalCluster(n_workers=jobs, threads_per_worker=1)
        with Client(address or cluster), joblib.parallel_config(backend="dask", n_jobs=-1):
            yield "generator_unordered"
        if cluster is not None:
            cluster.close()
    elif name == "ray":
        import ray
        from ray.util.joblib import register_ray

        ray.init(address=address or None, ignore_reinit_error=True)
        register_ray()
        with joblib.parallel_config(backend="ray", n_jobs=-1):
            yield "list"
    else:
        raise ValueError(f"unknown backend {name!r}; choose local, dask or ray")


def _bar(done: int, total: int, width: int = 30) -> str:
    filled = int(width * done / max(1, total))
    return "[" + "#" * filled + "." * (width - filled) + f"] {done}/{total}"


def backfill_analyses(store, log) -> int:
    """Give every stored run that lacks one of analyses.SCALAR_NAMES (an analysis added after
    it was trained) the missing values, computed from its stored final weights by the same
    analyses.run_all, so a committed database grows with the analyses instead of being
    retrained. Diverged runs have no end-of-run analyses. Returns the runs filled."""
    from lab.measure.analyses import SCALAR_NAMES, run_all
    from lab.training.engine import load_weights
    from lab.training.model import StackedRNN

    trained = store.runs()
    alive = sorted(set(trained.loc[trained["status"] != "diverged", "run_id"]))
    have = store.scalars(alive).groupby("run_id")["name"].agg(set)
    todo = [r for r in alive if not set(SCALAR_NAMES) <= have.get(r, set())]
    for i, run_id in enumerate(todo, 1):
        cfg = store.config(run_id)
        model = StackedRNN.from_weights([cfg], [load_weights(store.weights(run_id))])
        (_, scalars), = run_all(model, [cfg])
        store.add_scalars(run_id, scalars)  # only the missing names are added
        if i % 25 == 0 or i == len(todo):
            log(f"analyses added to {i}/{len(todo)} stored runs")
    return len(todo)


def run_novel_word(store, seeds, steps, log) -> None:
    """Study 8: for each stored baseline run, every vocabulary word replaced by 'zog'."""
    from lab.language import grammar
    from lab.measure.agreement import novel_agreement
    from lab.measure.analyses import novel_word
    from lab.training.engine import load_weights
    from lab.training.model import StackedRNN

    words = [w for w in grammar.VOCABULARY if w != grammar.SENTENCE_END]
    for a in arms_of(NOVEL_WORD_STUDY):
        for seed in seeds:
            cfg = a.config(seed, steps)
            if not store.has_run(cfg.run_id):
                continue
            todo = [w for w in words if not store.has_novel_word(cfg.run_id, w)]
            has_agreement = "zog_agreement" in set(store.scalars([cfg.run_id])["name"])
            if not todo and has_agreement:
                continue
            model = StackedRNN.from_weights([cfg], [load_weights(store.weights(cfg.run_id))])
            for w in todo:
                store.write_novel_word(cfg.run_id, w, novel_word(model, w))
            if not has_agreement:  # agreement on "zog", every noun replaced in turn
                store.add_scalars(cfg.run_id, novel_agreement(model, grammar.NOUN_PAIRS))
            log(f"novel word: {len(todo)} replacements for seed {seed}")
        for seed in seeds:
            cfg = a.config(seed, steps)
            if store.has_run(cfg.run_id):
                run_exposures(store, cfg, log, steps)


def run_exposures(store, cfg, log, steps=None) -> None:
    """The novel word met in its company: the stored baseline continued on text where each
    noun in turn is written zog (and the control spelling), and once on the corpus as it is
    (the control run); each written as soon as it is read, so a stopped precompute resumes."""
    from lab.measure import company, company_read
    from lab.training.engine import load_weights

    weights = load_weights(store.weights(cfg.run_id))
    # a smoke-size precompute (--steps) continues for as long as its runs trained, at most
    length = company.EXPOSURE_STEPS if steps is None else min(steps, company.EXPOSURE_STEPS)
    if not store.has_exposure(cfg.run_id, company.NOVEL, ""):
        df = company_read.continue_on(cfg, weights, None, steps=length)
        for spelling in company.SPELLINGS:
            store.write_exposure(cfg.run_id, spelling, "",
                                 df.assign(expect=df[f"expect_{spelling}"], expect_noun=np.nan))
    todo = [(n, s) for n in company.NOUNS for s in company.SPELLINGS
            if not store.has_exposure(cfg.run_id, s, n)]
    for i, (noun, spelling) in enumerate(todo, 1):
        store.write_exposure(cfg.run_id, spelling, noun,
                             company_read.continue_on(cfg, weights, noun, spelling, length))
        if i % 6 == 0 or i == len(todo):
            log(f"novel word exposure: {i}/{len(todo)} for seed {cfg.seed}")


def precompute(db: Path, studies, seeds, steps=None, backend="local", address=None,
               jobs=2, log=print) -> dict:
    """Train and store what is missing; returns counts {'planned', 'stored_before', 'trained'}."""
    studies = tuple(studies or STUDY_IDS)
    plan = planned_runs(studies, seeds, steps)
    with open_writer(db) as store:
        stored = store.stored_run_ids()
        for study, arm_key, seed, cfg in plan:  # memberships of runs trained before
            if cfg.run_id in stored:
                store.add_membership(study, arm_key, seed, cfg.run_id)
        members = defaultdict(list)
        for study, arm_key, seed, cfg in plan:
            members[cfg.run_id].append((study, arm_key, seed))
        todo = list({c.run_id: c for *_, c in plan if c.run_id not in stored}.values())
        tasks = make_tasks(todo)
        total_cost = sum(stack_cost(t) for t in tasks) or 1
        log(f"{len(members)} distinct runs planned, {len(members) - len(todo)} stored, "
            f"{len(todo)} to train in {len(tasks)} stacks ({backend} backend)")
        started, done_cost, trained = time.time(), 0.0, 0
        if tasks:
            import joblib

            with parallel_backend(backend, address, jobs) as return_as:
                results = joblib.Parallel(return_as=return_as)(
                    joblib.delayed(train_task)(t) for t in tasks)
                for res in results:
                    for r in res:
                        store.write_run(r, members[r.run_id])
                    trained += len(res)
                    done_cost += stack_cost([r.config for r in res])
                    elapsed = time.time() - started
                    eta = elapsed * (total_cost - done_cost) / done_cost
                    log(f"{_bar(trained, len(todo))} runs  stack H={res[0].config.hidden} "
                        f"seq_len={res[0].config.seq_len} x{len(res)}  "
                        f"elapsed {elapsed / 60:.1f} min  eta {eta / 60:.1f} min")
        if store.floors().empty:  # once per store (after training, so it never delays a
            from lab.language.floors import finite_context_floors  # first stack)

            store.write_floors(finite_context_floors())
            log("finite-context floors h(0..60) written")
        backfill_analyses(store, log)
        if NOVEL_WORD_STUDY in studies:
            run_novel_word(store, seeds, steps, log)
        store.checkpoint()
    return {"planned": len(members), "stored_before": len(members) - len(todo), "trained": trained}


def list_store(db: Path, studies, seeds, steps=None) -> str:
    """What is stored and what is missing, per study."""
    plan = planned_runs(studies, seeds, steps)
    stored: set[str] = set()
    if db.exists():
        with open_writer(db) as store:
            stored = store.stored_run_ids()
    lines = []
    for study in studies:
        rows = [c.run_id in stored for s, _, _, c in plan if s == study]
        lines.append(f"{study:16s} {sum(rows):4d}/{len(rows):<4d} stored")
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m lab.precompute", description=__doc__)
    ap.add_argument("--study", action="append", choices=STUDY_IDS,
                    help="a study to run (repeatable; default: all)")
    ap.add_argument("--seeds", default=",".join(map(str, SEEDS)),
                    help="comma-separated seeds (default 42,43,44)")
    ap.add_argument("--steps", type=int, help="override the steps of every run (smoke size)")
    ap.add_argument("--db", type=Path, default=DEFAULT_DB, help="DuckDB file to write")
    ap.add_argument("--backend", choices=("local", "dask", "ray"), default="local")
    ap.add_argument("--address", help="scheduler address of an existing Dask/Ray cluster")
    ap.add_argument("--jobs", type=int, default=2, help="parallel stacks (default 2)")
    ap.add_argument("--list", action="store_true", help="show what is stored and missing")
    args = ap.parse_args(argv)
    studies = tuple(args.study or STUDY_IDS)
    try:
        seeds = tuple(int(s) for s in args.seeds.split(","))
    except ValueError:
        ap.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    if args.list:
        print(list_store(args.db, studies, seeds, args.steps))
        return 0

    def log(msg: str) -> None:
        print(f"{time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)

    counts = precompute(args.db, studies, seeds, args.steps, args.backend, args.address,
                        args.jobs, log)
    log(f"done: {counts}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
