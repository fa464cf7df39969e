"""The Sandbox page (`/sandbox`): set every knob of one run, train it through the retrain
service (same queue, limits, cache and progress as "retrain now"), and see it beside the
baseline's stored runs through the study pages' own charts. The configuration is in the URL,
so a shared link retrains, or reuses from the cache, the same run."""

from __future__ import annotations

import streamlit as st

from lab.data.studydata import StudyData, floor
from lab.service import results
from lab.service.retrain import RETRAIN_MAX_STEPS, RetrainBusy
from lab.studies.catalog import SEEDS
from lab.studies.params import Param
from lab.studies.study import Arm
from lab.training.config import ACTIVATIONS, BASELINE, BOUNDS, INITS, RunConfig, validate
from lab.ui import db, retrain_panel, urlstate
from lab.ui.home import page_words
from lab.ui.views import VIEWS, View

STORED_STUDY, STORED_ARM = "novel_word", "baseline"  # where the baseline's seeds are stored
HIDDEN = (8, 16, 32, 64, 128, 256)
VIEW_IDS = ("loss_curves", "final_loss", "agreement_by_distance", "agreement_by_condition",
            "grad_decay")
DEFAULT_STEPS = 2000

PARAMS = {
    "hidden": Param("hidden", "choice", BASELINE.hidden, HIDDEN),
    "activation": Param("activation", "choice", BASELINE.activation, ACTIVATIONS),
    "init": Param("init", "choice", BASELINE.init, INITS),
    "freeze_whh": Param("frozen", "choice", 0, (0, 1)),
    "seq_len": Param("seq_len", "int", BASELINE.seq_len, bounds=BOUNDS["seq_len"]),
    "lr": Param("lr", "float", BASELINE.lr, bounds=BOUNDS["lr"]),
    "clip": Param("clip", "float", BASELINE.clip, bounds=BOUNDS["clip"]),
    "sampling": Param("sampling", "float", BASELINE.sampling, bounds=BOUNDS["sampling"]),
    "steps": Param("steps", "int", DEFAULT_STEPS, bounds=(10, RETRAIN_MAX_STEPS)),
    "seed": Param("seed", "int", SEEDS[0], bounds=BOUNDS["seed"]),
}
LABELS = {"hidden": "Hidden size H", "activation": "Activation", "init": "W_hh init",
          "freeze_whh": "W_hh", "seq_len": "TBPTT chunk (seq_len)", "lr": "Learning rate",
          "clip": "Gradient clip (global L2 norm)", "sampling": "Scheduled sampling (final rate)",
          "steps": "Training steps", "seed": "Seed"}


def _controls() -> RunConfig:
    """Every knob, three to a row, each in the URL; the RunConfig they make."""
    values = {}
    names = list(PARAMS)
    for row in (names[i:i + 3] for i in range(0, len(names), 3)):
        for col, name in zip(st.columns(3), row, strict=False):
            p = PARAMS[name]
            with col:
                if p.kind == "choice" and name == "freeze_whh":
                    values[name] = bool(urlstate.control(
                        p, st.selectbox, LABELS[name],
                        format_func=lambda v: "frozen (reservoir)" if v else "trained"))
                elif p.kind == "choice":
                    values[name] = urlstate.control(p, st.selectbox, LABELS[name])
                elif p.kind == "int":
                    values[name] = int(urlstate.control(p, st.number_input, LABELS[name],
                                                        step=1))
                else:
                    values[name] = float(urlstate.control(p, st.number_input, LABELS[name],
                                                          format="%.4g", step=STEPS[name]))
    cfg = RunConfig(**{**BASELINE.to_dict(), **values})
    validate(cfg)
    return cfg


# the +/- step of each float knob: Streamlit's 0.01 could not go below the baseline's lr
# (0.01 - 0.01 is under its bound) and crept along a clip of 50
STEPS = {"lr": 0.001, "clip": 1.0, "sampling": 0.05}


def _arm(cfg: RunConfig) -> Arm:
    changed = {k: v for k, v in cfg.to_dict().items()
               if k not in ("seed", "steps") and v != getattr(BASELINE, k)}
    label = ("your run: " + ", ".join(f"{k}={v}" for k, v in changed.items())) if changed \
        else "your run: the baseline"
    return Arm("yours", label, changed)


def render() -> None:
    st.title("Sandbox: train your own")
    page_words(["TBPTT", "W_hh", "orthogonal", "xavier", "reservoir", "gradient clipping",
                "scheduled sampling", "nats", "entropy floor"])
    st.markdown(
        "Set any knob of the baseline within the engine's bounds and train one run. It trains "
        "on this server with the same code as every stored run, in the same queue as the "
        "study pages' retrains, and is drawn beside the baseline's stored seeds with the "
        "study pages' charts. The settings live in the address: a shared link trains (or "
        "reuses from the cache) the same run.")
    db.store_or_stop()
    stored = db.study_data(STORED_STUDY)
    try:
        cfg = _controls()
    except ValueError as e:
        st.warning(f"These settings cannot be trained: {e}")
        return
    arm = _arm(cfg)
    st.caption(f"{arm.label[0].upper()}{arm.label[1:]}; {cfg.steps:,} steps, seed {cfg.seed}. "
               f"The stored baseline ran "
               f"{BASELINE.steps:,} steps with seeds {', '.join(map(str, SEEDS))}.")
    key = "sandbox_job"
    if st.button("Train it", type="primary"):
        try:
            st.session_state[key] = retrain_panel.service().submit(
                [cfg], retrain_panel.session_id())
        except (ValueError, RetrainBusy) as e:
            st.warning(str(e))
    job = st.session_state.get(key)
    if job is None or job.key != (cfg.run_id,):
        job = retrain_panel.safe_job([cfg])
    if job is not None:
        active = job.state in ("queued", "running")
        poll = retrain_panel.POLL_SECONDS if active else None
        st.fragment(run_every=poll)(_live)(job, arm, stored, active)


def _live(job, arm: Arm, stored: StudyData, was_active: bool) -> None:
    if retrain_panel.progress(job):
        return
    if job.state in ("failed", "cancelled"):
        st.error(job.error or "The run failed.")
    else:
        if was_active:
            st.rerun()
        mine = results.from_results("sandbox", (arm,), job.results or [])
        run = mine.runs.iloc[0]
        status = {"ok": "finished", "unstable": "finished, but lost ground by the end",
                  "diverged": "diverged: its loss blew up and training stopped"}
        st.success(f"Trained in {job.elapsed:.0f} s{', from the cache' if job.cached else ''}"
                   f": {status.get(run['status'], run['status'])}.")
        end = int(stored.runs.loc[stored.runs["arm"] == STORED_ARM, "steps"].max())
        both = results.alongside(stored, STORED_ARM,
                                 f"baseline (stored seeds, trained {end:,} steps)", mine)
        view = View(both, floor(), None, int(run["seed"]))
        for name in VIEW_IDS:
            if name == "final_loss":  # the same step, and the baseline's end, both named
                VIEWS[name](View(results.same_step_losses(stored, STORED_ARM, mine), floor(),
                                 None, int(run["seed"])))
                if int(run["steps"]) < end:
                    st.caption(f"Your run trained {int(run['steps']):,} steps, the baseline "
                               f"{end:,}. The first dot is the baseline's held-out loss at the "
                               "checkpoint at or before your step count, a fair race; the "
                               "second is where the baseline ended. The charts below compare "
                               "each run's end.")
            else:
                VIEWS[name](view)
