"""Short runs that chose the lab-wide optimizer settings: `python -m lab.calibrate`.

Trains the baseline and the learning-rate and clipping extremes for a few thousand
steps at a given batch size and prints, per arm and seed, the held-out loss against the
entropy floor, how often clipping fired, the median pre-clip gradient norm, the
grammaticality of free-running samples and the agreement the memory studies rely on
(ORC1: across a depth-1 object relative; long: subject 16+ characters back; calibrated
when the baseline reaches 85% ORC1 on every seed). `--set` changes any other baseline knob
(`--set lr=0.02 --set seq_len=35`). docs/performance.md records the runs that fixed the
batch size and loss scale, and the ones that could not.
"""

from __future__ import annotations

import argparse
import time

from lab.language import grammar
from lab.training.config import BASELINE

ARMS = {
    "baseline": {}, "lr=0.001": {"lr": 0.001}, "lr=0.003": {"lr": 0.003},
    "lr=0.03": {"lr": 0.03}, "lr=0.1": {"lr": 0.1}, "lr=0.3": {"lr": 0.3},
    "lr=1": {"lr": 1.0}, "clip=0.5": {"clip": 0.5},
    "clip=1": {"clip": 1.0}, "clip=5": {"clip": 5.0}, "clip=10": {"clip": 10.0},
    "clip=20": {"clip": 20.0}, "clip=50": {"clip": 50.0},
}


def main(argv=None) -> int:
    import torch

    from lab.training.engine import keep_freed_memory, train_stack

    ap = argparse.ArgumentParser(prog="python -m lab.calibrate", description=__doc__)
    ap.add_argument("--batch", type=int, default=BASELINE.batch_size)
    ap.add_argument("--steps", type=int, default=6000)
    ap.add_argument("--seed", type=int, default=BASELINE.seed)
    ap.add_argument("--seeds", help="comma-separated seeds, stacked (default: --seed)")
    ap.add_argument("--set", action="append", default=[], metavar="KNOB=VALUE",
                    help="another baseline knob for every arm (repeatable)")
    ap.add_argument("--save", help="pickle the results (weights included) to this file")
    ap.add_argument("--arms", help="comma-separated subset of the arms (default: all)")
    ap.add_argument("--base-clip", type=float, default=BASELINE.clip,
                    help="the clip threshold the learning-rate arms keep")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    keep_freed_memory()
    keys = args.arms.split(",") if args.arms else list(ARMS)
    seeds = [int(x) for x in args.seeds.split(",")] if args.seeds else [args.seed]
    base = BASELINE.replace(batch_size=args.batch, steps=args.steps, clip=args.base_clip,
                            **dict(_knob(kv) for kv in args.set))
    configs = {(k, seed): base.replace(seed=seed, **ARMS[k]) for k in keys for seed in seeds}
    t0 = time.time()
    results = {r.run_id: r for r in train_stack(list(configs.values()))}
    if args.save:
        import pickle

        with open(args.save, "wb") as f:
            pickle.dump(results, f)
    print(f"batch={args.batch} steps={args.steps} wall={time.time() - t0:.0f}s "
          f"floor={grammar.entropy_rate():.4f} nats/char")
    print(f"{'arm':10s} {'seed':>4s} {'status':9s} {'val':>6s} {'clip%':>6s} {'|g| med':>7s} "
          f"{'sent ok':>7s} {'ORC1':>6s} {'long':>6s}")
    nan = float("nan")
    for (key, seed), cfg in configs.items():
        r = results[cfg.run_id]
        s = r.scalars
        print(f"{key:10s} {seed:4d} {r.status:9s} {r.final_val_loss:6.3f} "
              f"{100 * s['clip_fraction']:6.0f} {s['median_grad_norm']:7.2f} "
              f"{s.get('free_valid_sentences', nan):7.2f} "
              f"{100 * s.get('agreement_obj_rc1', nan):5.1f}% "
              f"{100 * s.get('agreement_long', nan):5.1f}%")
    return 0


def _knob(text: str) -> tuple[str, object]:
    """'lr=0.02' -> ('lr', 0.02): the value as the baseline's own type."""
    name, sep, raw = text.partition("=")
    if not sep or not hasattr(BASELINE, name):
        raise SystemExit(f"--set wants KNOB=VALUE with a knob of RunConfig, got {text!r}")
    kind = type(getattr(BASELINE, name))
    return name, (raw.lower() in ("1", "true", "yes")) if kind is bool else kind(raw)


if __name__ == "__main__":
    raise SystemExit(main())
