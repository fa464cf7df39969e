"""The ten studies as data: question, what is fixed, hypothesis, charts, verdict, observations,
takeaway. Pages render a `Study` through one template; nothing here imports torch or streamlit.

Texts that depend on results are functions of the stored runs (lab.studies.observations,
lab.studies.verdicts), so a page never states an outcome its numbers contradict.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lab.data.studydata import StudyData, floor
from lab.studies import observations as ob
from lab.studies import verdicts as vd
from lab.studies.arms import ARMS, SEEDS, Arm
from lab.studies.evidence import METRICS, Metric
from lab.studies.verdicts import Verdict
from lab.training.config import BASELINE, KNOBS

CHART_IDS = (
    "loss_curves", "spectral_radius", "grad_decay", "final_loss", "final_loss_vs_params",
    "memory_horizon", "probe_bins", "hidden_stats", "grad_norm_log", "clip_fraction",
    "final_loss_vs_clip", "context_accuracy", "error_compounding", "category_separation",
    "novel_word", "grid",
)


@dataclass(frozen=True)
class Observation:
    """A question for the student and the function that answers it from the runs."""

    question: str
    answer: Callable[[StudyData], str]


@dataclass(frozen=True)
class Study:
    """One study page: its words, its arms, its key metric, its charts and its checks."""

    id: str
    number: int
    title: str
    question: str
    fixed: str
    hypothesis: str
    arms: tuple[Arm, ...]
    metric: Metric
    charts: tuple[str, ...]
    verdict: Callable[[StudyData], Verdict]
    observations: tuple[Observation, ...]
    takeaway: Callable[[StudyData, Verdict], str]


_KNOB_TEXT: dict[str, Callable] = {
    "hidden": lambda v: f"H={v}",
    "activation": lambda v: f"{v} activation",
    "init": lambda v: f"{v} W_hh init",
    "freeze_whh": lambda v: "W_hh frozen" if v else "W_hh trained",
    "seq_len": lambda v: f"TBPTT chunks of {v} chars",
    "lr": lambda v: f"lr={v:g}",
    "clip": lambda v: f"clip={v:g}",
    "sampling": lambda v: "teacher forcing" if v == 0 else f"scheduled sampling to {v:.0%}",
    "steps": lambda v: f"{v:,} steps",
    "optimizer": lambda v: f"plain {v.upper()}",
    "batch_size": lambda v: f"batch of {v}",
    "loss_scale": lambda v: "loss summed over the chunk" if v == "sum_chunk" else f"loss {v}",
}


def fixed_text(arms: tuple[Arm, ...]) -> str:
    """The baseline knobs this study holds still (every knob its arms do not override)."""
    varied = {k for a in arms for k in a.overrides} | {"seed"}
    held = [_KNOB_TEXT[k](getattr(BASELINE, k)) for k in KNOBS if k not in varied]
    seeds = ", ".join(str(s) for s in SEEDS)
    return f"Held at the baseline: {', '.join(held)}. Every arm runs seeds {seeds}."


def _some(claims: list[str], most: int = 3) -> str:
    """Claims joined by '; ', the first `most` of them and a count of the rest."""
    more = f"; and {len(claims) - most} more" if len(claims) > most else ""
    return "; ".join(claims[:most]) + more


def lesson(supported: str, contradicted: str, fact: Callable[[StudyData], str]):
    """A takeaway chosen by the verdict's outcome, followed by one fact from the runs.

    Every outcome but "supported" names which checks held, went the other way or stayed
    within noise, so the takeaway never claims more than the verdict found.
    """
    def takeaway(data: StudyData, v: Verdict) -> str:
        by = {s: _some([c.claim for c in v.checks if c.status == s])
              for s in ("holds", "fails", "unclear")}
        parts = [f"{word} {by[s]}." for s, word in (
            ("holds", "It holds that"), ("fails", "The runs contradict that"),
            ("unclear", "Within seed noise:")) if by[s]]
        lead = {
            "supported": supported,
            "not supported": contradicted,
            "partly supported": "Only part of the textbook story shows in these runs.",
            "inconclusive": "These runs cannot settle the claim" + (
                "." if v.checks else f": {v.details[0] if v.details else 'runs are missing.'}"),
        }[v.outcome]
        body = "" if v.outcome == "supported" else " ".join(parts)
        return " ".join(x for x in (lead, body, fact(data)) if x)
    return takeaway


def loss_fact(data: StudyData) -> str:
    best = ob.best_arm(data)
    if best is None:
        return f"No arm finished with a finite loss; the floor is {floor():.3f} nats/char."
    return (f"Best median final held-out loss here: {data.label(best)} at "
            f"{ob.f3(data.median(best, 'final_val_loss'))} nats/char, against the grammar's "
            f"floor of {floor():.3f}.")


def _study(sid, number, title, question, hypothesis, metric, charts, observations,
           supported, contradicted, fact=loss_fact) -> Study:
    arms = ARMS[sid]
    unknown = set(charts) - set(CHART_IDS)
    if unknown:
        raise ValueError(f"study {sid!r} names unknown charts {sorted(unknown)}")
    return Study(sid, number, title, question, fixed_text(arms), hypothesis, arms,
                 METRICS[metric], tuple(charts), vd.VERDICTS[sid],
                 tuple(Observation(q, a) for q, a in observations),
                 lesson(supported, contradicted, fact))


def _tf_fact(data: StudyData) -> str:
    return ob.tf_gap(data)


_CLIP = f"clip={BASELINE.clip:g}"
_LR = f"lr={BASELINE.lr:g}"

_ENTRIES = [
    _study(
        "initialization", 1, "Initialization of W_hh",
        "Does the way W_hh starts out decide how soon the network learns and how far back "
        "its gradients reach?",
        "An orthogonal W_hh has every eigenvalue on the unit circle, so the backward signal is "
        "neither shrunk nor inflated at each step back in time. The textbook expectation: "
        "orthogonal init brings the loss down sooner than xavier or random init and leaves "
        "gradients that still count many characters back.",
        "gradient_reach", ("loss_curves", "spectral_radius", "grad_decay", "final_loss"),
        [("Which initialization brings the training loss down soonest?", ob.init_speed),
         ("Where does the spectral radius of W_hh start, and where does training take it?",
          ob.init_radius),
         ("How far back does the gradient reach once training is over?", ob.init_reach),
         ("Does the starting point still show in the generated text?", ob.samples_words)],
        "Where W_hh starts matters: the orthogonal start learned sooner and kept its "
        "gradients alive further back than the other two, in every seed.",
        "The textbook advice on orthogonal init did not carry over to these runs."),
    _study(
        "hidden_size", 2, "Hidden size",
        "How much does a wider hidden state buy?",
        "A wider state has room for more of the history, so the loss should fall and the "
        "memory lengthen as H grows. Parameters grow roughly with H squared while the "
        "grammar stays small, so each doubling should buy less than the one before.",
        "memory_horizon", ("loss_curves", "final_loss_vs_params", "memory_horizon"),
        [("Does each doubling of H lower the held-out loss?", ob.hidden_doublings),
         ("What does each added parameter buy?", ob.hidden_per_param),
         ("Does a wider hidden state remember further back?", ob.hidden_horizon)],
        "Capacity helps with diminishing returns: the largest H ends lowest and remembers "
        "furthest, but the last doubling buys less than the first.",
        "Wider was not better in these runs."),
    _study(
        "tbptt", 3, "TBPTT chunk length",
        "If gradients may flow further back, does the network remember further back?",
        "Truncation caps the distance over which a dependency can be learned, so longer "
        "chunks should give a longer memory. The classic caveat: inside a chunk the gradient "
        "still fades with every step back, so the gain per added character shrinks as chunks "
        "grow, and the gradient never spans the whole of a long chunk.",
        "memory_horizon", ("grad_decay", "loss_curves", "probe_bins", "memory_horizon"),
        [("What can the shortest chunk remember?", ob.tbptt_short),
         ("Does doubling the longest chunks double the memory horizon?", ob.tbptt_doubling),
         ("How far does the gradient reach inside the longest chunk?", ob.tbptt_reach)],
        "The chunk sets a ceiling and fading gradients set the real limit: longer chunks "
        "bought memory, each added character bought less, and the gradient died out well "
        "before the end of the longest chunk.",
        "Longer chunks did not buy memory the way the textbook says in these runs."),
    _study(
        "activation", 4, "Activation function",
        "What does the nonlinearity do for a vanilla RNN's stability and learning?",
        "tanh is the classic choice: bounded, centred on zero, with slope up to 1. The "
        "expectation is that it trains stably and ends lower than relu (unbounded), sigmoid "
        "(slope at most 1/4 and never negative) and identity (a linear system whose state can "
        "grow without limit).",
        "final_val_loss", ("loss_curves", "hidden_stats", "grad_norm_log", "final_loss"),
        [("Which activations train without failing?", ob.act_stability),
         ("Which activation reaches the lowest held-out loss?", ob.act_loss),
         ("How saturated are the hidden units at the end?", ob.act_saturation)],
        "tanh earns its place: it never failed and ended below every other activation in "
        "every seed.",
        "tanh was not the winner in these runs."),
    _study(
        "clipping", 5, "Gradient clipping",
        "Where should the clip threshold sit?",
        "Clipping too hard shrinks nearly every update and slows learning; clipping too little "
        "lets rare gradient spikes through. The expected picture is a U: the baseline "
        f"threshold ({_CLIP}) ends lower than both the tightest and the loosest threshold.",
        "clip_fraction", ("loss_curves", "clip_fraction", "final_loss_vs_clip"),
        [("How often does each threshold clip?", ob.clip_rate),
         ("Which threshold ends with the lowest loss, and is it in the middle?", ob.clip_best),
         ("Does clipping fire more early in training than late?", ob.clip_timing)],
        f"The U shows: {_CLIP} beat both the tightest and the loosest threshold, so clipping "
        "works best as a guard against spikes rather than a brake on every step.",
        f"No U-shape around {_CLIP} in these runs."),
    _study(
        "teacher_forcing", 6, "Teacher forcing and exposure bias",
        "What happens when a model trained on perfect context has to read its own output?",
        "Trained only on true text, the model never practises recovering from its own slips, "
        "so it should predict worse from its own text than from true text, and one bad "
        "sentence should make the next more likely to go wrong (exposure bias). Feeding it "
        "some of its own samples during training (scheduled sampling) should narrow the gap.",
        "free_valid_sentences", ("context_accuracy", "error_compounding", "loss_curves"),
        [("How much worse does the model predict from its own text?", ob.tf_gap),
         ("Do errors compound once a sentence goes wrong?", ob.tf_compounding),
         ("Does scheduled sampling make free-running text more grammatical?", ob.tf_grammar)],
        "Exposure bias is real here and scheduled sampling helps: the teacher-forced model "
        "slips more in its own text, errors breed errors, and practice on its own samples "
        "narrows the gap.",
        "Exposure bias did not show the way the textbook describes in these runs.", _tf_fact),
    _study(
        "reservoir", 7, "Reservoir computing",
        "How much of the learning needs W_hh to be trained at all?",
        "An orthogonal W_hh left untrained still mixes the input history into a rich state "
        "(the echo-state idea), so a trained readout should learn much of the grammar and "
        "its word-end states should separate the word categories well above chance. Training "
        "W_hh as well should still do better on both loss and separation.",
        "category_separation", ("loss_curves", "final_loss", "category_separation"),
        [("How close does the frozen reservoir come to the trained network?", ob.res_gap),
         ("Do word-end states separate the categories without training W_hh?",
          ob.res_separation),
         ("How many parameters does each train?", ob.res_params)],
        "A random orthogonal W_hh already carries useful structure, and training it refines "
        "that structure: the reservoir separates categories above chance, the trained "
        "network does better still.",
        "The reservoir story did not hold in these runs."),
    _study(
        "novel_word", 8, "A novel word",
        "Where does a word the network never saw end up in its hidden space?",
        "A word is known by the company it keeps: reading 'zog' in the slots of a known word, "
        "the network should place zog's word-end state nearest to the words that share those "
        "slots, the replaced word's category-mates.",
        "zog_hit_rate", ("novel_word",),
        [("When zog replaces 'man', which words does it land nearest?", ob.novel_example),
         ("How often does zog land nearest its replaced word's category?", ob.novel_rate),
         ("Does it work equally well for every category?", ob.novel_by_category)],
        "Context alone placed a never-seen word: zog lands among the category-mates of the "
        "word it replaced, in every seed.",
        "Context alone did not place zog among its category-mates in these runs.",
        ob.novel_rate),
    _study(
        "learning_rate", 9, "Learning rate",
        "How sensitive is training to the step size?",
        "Too small a rate crawls and too large a rate overshoots or diverges, so the "
        f"expected picture is a U: the baseline rate ({_LR}) ends lower than both the "
        "smallest and the largest rate tested.",
        "final_val_loss", ("loss_curves", "final_loss"),
        [("Which learning rate ends with the lowest loss?", ob.lr_best),
         ("Does any learning rate blow up?", ob.lr_failures),
         ("How far does the smallest rate get?", ob.lr_slowest)],
        f"The U shows: {_LR} beat both the smallest and the largest rate, so the step size "
        "has a sweet spot between crawling and overshooting.",
        f"No U-shape around {_LR} in these runs."),
    _study(
        "grid", 10, "The design grid",
        "Putting hidden size, activation and chunk length together, which design wins?",
        "If the single-knob studies generalise, tanh should be the best activation at every "
        "hidden size and chunk length, and the best cell should pair a large H with a long "
        "chunk.",
        "final_val_loss", ("grid",),
        [("Which cell is best, and how far behind is the baseline cell?", ob.grid_best),
         ("Which activation wins most often?", ob.grid_activation_wins),
         ("Does a bigger H help everywhere?", ob.grid_bigger_h)],
        "The single-knob lesson generalises: tanh is the best activation in every cell of "
        "the grid.",
        "The single-knob lesson about tanh does not generalise across the grid."),
]

STUDIES: dict[str, Study] = {s.id: s for s in _ENTRIES}


def get(study_id: str) -> Study:
    """The study registered under study_id; an unknown id raises ValueError naming the known."""
    if study_id not in STUDIES:
        raise ValueError(f"unknown study {study_id!r}; known: {list(STUDIES)}")
    return STUDIES[study_id]
