"""Paper B at its own protocol (Appendix K; Conventions page, conventions-protocol-b).

A :class:`SetupB` is an image model on a dataset at a scale. Its games are the values
v(x_T) (2^n per sample, the log-odds of the true label; Conventions page, eq-reward) of the
target and of k baselines (:mod:`papers.reference`: the target trained on the training split,
the baselines on the test split) on ``n_samples`` random **test** samples, with n players drawn
per sample from the central 6×6 cells of an 8×8 grid on the feature map of the model's masking
layer (zero baseline). :func:`model_stage` caches all that needs one model's weights (its
games, and the target's misclassified samples and noise levels), so that each model can be
trained, played and set aside in turn; :func:`games` gathers them; :func:`effects` caches the
AND-OR effects of every game from the exact sparsest solution (``"exact"``, eq-sparsest) or
from the lab's SGD with the published defaults (``"sgd"``:
``ibn.and_or.sgd.LAB_PRESETS["e954ff2"]``).

The result dictionaries carry the keys :func:`papers.generalizable.split_strengths` reads
(``values``, ``baseline_values``, ``and``, ``or``, ``baseline_and``, ``baseline_or``), so the
analysis of the smaller runs applies unchanged. :func:`upper_share` is the gate reported before
any claim: how much of the strength sits at orders m ≥ n/2.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from ibn import games as ibn_games
from ibn import results
from ibn._progress import tqdm
from ibn.and_or import extract
from ibn.data import load_images
from ibn.maskers import FeatureMapMasker
from ibn.train import evaluate
from ibn.transforms import mobius, orders
from papers._setup import PAGE_WIDTH
from papers.generalizable import _predict as predict
from papers.protocol_b_text import CountsOfScale, TextSetupB, is_text, text_games
from papers.reference import ImageSetup, ModelSpec, parse_setups, recipe, train_reference

__all__ = ["SetupB", "TextSetupB", "SETUPS_B", "TEXT_SETUPS_B", "SCALES_B", "SOLVERS", "NOISE_B", "N_MISCLASSIFIED", "games",
           "model_stage", "effects", "misclassified", "misclassified_games", "correct_group", "noise", "upper_share", "gate",
           "chosen_setups", "setup_record", "gate_row", "plot_fig2", "seconds_per_game"]

#: n players, samples per setup and baselines per scale (``book`` and ``paper``: Appendix K).
SCALES_B: dict[str, dict[str, int]] = {
    "smoke": {"n_players": 6, "n_samples": 4, "k": 2},
    "book": {"n_players": 10, "n_samples": 50, "k": 5},
    "paper": {"n_players": 10, "n_samples": 50, "k": 5},
}
#: the four image setups of paper B's Figs. 2, 4, 5, 7, 8 run here.
SETUPS_B = (("resnet20", "mnist"), ("vgg11", "mnist"), ("resnet20", "fashion-mnist"),
            ("vgg11", "fashion-mnist"))
#: the text setup of Fig. 2 (:mod:`papers.protocol_b_text`).
TEXT_SETUPS_B = (("minilm", "rt_sentences"),)
#: how the AND-OR effects of a game are found: the exact optimum, or the lab's SGD preset.
SOLVERS = {"exact": {}, "sgd": {"solver": "sgd", "preset": "e954ff2"}}


@dataclass(frozen=True)
class SetupB(CountsOfScale, ImageSetup):
    """One paper-B setup: ``model`` on ``dataset`` at ``scale`` (smoke, book or paper)."""

    SCALES = tuple(SCALES_B)
    COUNTS = SCALES_B

    def baselines(self) -> list[ModelSpec]:
        rec = recipe(self.scale, self.dataset, "baseline", self.model)
        return [ModelSpec(self.model, self.dataset, "baseline", self.seed + 1 + j, rec)
                for j in range(self.k)]

    def key(self) -> dict[str, Any]:
        """What determines the games (the scale itself is not part of it)."""
        return {"model": self.model, "dataset": self.dataset, "seed": self.seed,
                "n_players": self.n_players, "n_samples": self.n_samples,
                "target": self.target().key(), "baselines": [b.key() for b in self.baselines()]}

    def record(self) -> dict[str, Any]:
        """The setup as a verdict record's ``setups`` entry (without accuracies)."""
        return {"model": self.model, "dataset": self.dataset, "n_players": self.n_players,
                "n_samples": self.n_samples, "k": self.k, "scale": self.scale,
                "target_epochs": self.target().recipe.epochs,
                "baseline_epochs": self.baselines()[0].recipe.epochs}


def _sample_indices(setup: SetupB, n_test: int) -> np.ndarray:
    rng = np.random.default_rng(setup.seed)
    return np.sort(rng.choice(n_test, size=setup.n_samples, replace=False))


def _play(setup: SetupB, nets: list[torch.nn.Module], x: torch.Tensor, y: torch.Tensor,
          idx: np.ndarray, *, progress: bool = False) -> tuple[torch.Tensor, list, str | None]:
    """Values (len(nets), N, 2^n) of every net on the test images ``idx``, with the players
    drawn per sample (seeded by the setup's seed and the image's index) and the layer used."""
    vals, players, layer = [], [], None
    for i in tqdm(idx, desc=f"{setup.name} games", disable=not progress, leave=False):
        masker = FeatureMapMasker(grid=8, central=6, n_players=setup.n_players,
                                  seed=setup.seed * 100_003 + int(i))
        vals.append(torch.stack([ibn_games.all_values(net, x[i], masker, target=int(y[i]),
                                                      progress=False) for net in nets]))
        players.append(list(masker.players))
        layer = masker.layer_used
    return torch.stack(vals, 1).to(torch.float64), players, layer


def games(setup: SetupB | TextSetupB, *, progress: bool = False, recompute: bool = False
          ) -> dict[str, Any]:
    """The values of the target and of the k baselines on the setup's test samples (cached).

    Keys: ``values`` (N, 2^n), ``baseline_values`` (k, N, 2^n), ``labels``, ``indices`` (into the
    test split), ``players`` (the cells, or words, of each sample), ``target_test_acc``,
    ``baseline_val_acc`` (k; on samples no model was trained on) and ``layer``. A text setup's
    games are :func:`papers.protocol_b_text.text_games`.

    Args:
        setup: an image or a text setup.
        progress: a progress bar over the samples.
        recompute: ignore a stored result and compute it again.
    """

    def compute() -> dict[str, Any]:
        if isinstance(setup, TextSetupB):
            return text_games(setup, progress=progress)
        t, bases = _stages(setup, progress)
        _, y = load_images(setup.dataset, "test")
        idx = _sample_indices(setup, len(y))
        return {"values": t["values"], "baseline_values": torch.stack([b["values"] for b in bases]),
                "labels": y[idx], "indices": torch.as_tensor(idx), "players": t["players"],
                "layer": t["layer"], "target_test_acc": t["test_acc"],
                "target_best_epoch": t["best_epoch"],
                "baseline_val_acc": [b["test_acc"] for b in bases],
                "target_on_samples_acc": t["on_samples_acc"], "scale": setup.scale}

    return results.cached(f"B_protocol_games_{setup.name}", setup.key(), compute,
                          recompute=recompute, scale=setup.scale)


def model_stage(setup: SetupB, spec: ModelSpec, *, progress: bool = False,
                recompute: bool = False) -> dict[str, Any]:
    """Everything of an image setup that needs one of its models' weights (cached): the model's
    values on the setup's samples (:func:`games`) and on the target's misclassified samples
    (:func:`misclassified_games`), with the same players, and its accuracy; the target's stage
    also picks the misclassified samples and holds the noise levels' games (:func:`noise`).

    With these stored, the setup's results need no model, so its models need not all be at hand
    at once: each may be trained, played and set aside in turn (the target first).

    Args:
        setup: an image setup.
        spec: its target or one of its baselines.
        progress: a progress bar over the samples.
        recompute: ignore a stored result and compute it again.

    Returns:
        ``values`` (N, 2^n), ``players``, ``layer``, ``test_acc`` (baselines: on held-out
        training images), ``best_epoch``, ``misclassified_values`` (M, 2^n) and
        ``misclassified_players``; the target's also ``misclassified_indices`` (M; into the test
        split), ``n_wrong``, ``correct_positions``, ``on_samples_acc`` and ``noise``
        (:func:`papers.noise.noise_values` at ``NOISE_B[scale]``).

    Raises:
        ValueError: ``spec`` is neither the setup's target nor one of its baselines.
    """
    from papers.noise import noise_values

    is_target = spec == setup.target()
    if not is_target and spec not in setup.baselines():
        raise ValueError(f"spec must be the target or a baseline of {setup.name}, got {spec.name}")
    n_wrong_wanted = N_MISCLASSIFIED[setup.scale]
    key = {**_misclassified_key(setup), "model": spec.key()}
    if is_target:
        key["noise"] = NOISE_B[setup.scale]

    def compute() -> dict[str, Any]:
        net, info = train_reference(spec)
        x, y = load_images(setup.dataset, "test")
        idx = _sample_indices(setup, len(y))
        v, players, layer = _play(setup, [net], x, y, idx, progress=progress)
        out = {"values": v[0], "players": players, "layer": layer,
               "test_acc": float(info["test_acc"]), "best_epoch": int(info["best_epoch"])}
        if is_target:
            wrong = np.flatnonzero((predict(net, x) != y).numpy())
            rng = np.random.default_rng(setup.seed + 7)
            wrong_idx = np.sort(rng.choice(wrong, size=min(n_wrong_wanted, len(wrong)),
                                           replace=False))
            right = torch.nonzero(predict(net, x[idx]) == y[idx]).flatten()
            settings = NOISE_B[setup.scale]
            ev = torch.randperm(len(y), generator=torch.Generator().manual_seed(setup.seed))
            ev = ev[: settings["n_eval"]]
            out.update(misclassified_indices=torch.as_tensor(wrong_idx), n_wrong=len(wrong),
                       correct_positions=right[:n_wrong_wanted],
                       on_samples_acc=evaluate(net, (x[idx], y[idx]))["acc"],
                       noise=noise_values(net, x[idx], y[idx], players, eval_set=(x[ev], y[ev]),
                                          settings=settings, progress=progress))
        else:
            wrong_idx = np.asarray(model_stage(setup, setup.target())["misclassified_indices"])
        vw, wplayers, _ = _play(setup, [net], x, y, wrong_idx, progress=progress)
        out.update(misclassified_values=vw[0], misclassified_players=wplayers)
        return out

    return results.cached(f"B_protocol_model_{setup.name}_{spec.role}{spec.seed}", key, compute,
                          recompute=recompute, scale=setup.scale)


def _stages(setup: SetupB, progress: bool = False) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """:func:`model_stage` of the target and of every baseline, in that order."""
    return (model_stage(setup, setup.target(), progress=progress),
            [model_stage(setup, b, progress=progress) for b in setup.baselines()])


def effects(setup: SetupB | TextSetupB, solver: str = "exact", *, recompute: bool = False
            ) -> dict[str, Any]:
    r""":func:`games` plus the AND-OR effects of every game (cached per solver; Conventions page,
    eq-sparsest, noise bound 0.02).

    Args:
        setup: an image or a text setup.
        solver: ``"exact"`` (the sparsest decomposition) or ``"sgd"`` (the lab's SGD with its
            published defaults), a key of :data:`SOLVERS`.
        recompute: ignore the stored effects and compute them again.

    Returns:
        The games' keys and ``and``/``or`` (N, :math:`2^n`) of the target,
        ``baseline_and``/``baseline_or`` (k, N, :math:`2^n`), ``objective`` and ``solver``.

    Raises:
        ValueError: an unknown ``solver``.
    """
    return _with_effects(_effects_stem(setup), setup.key(), games(setup), solver,
                         setup.scale, recompute)


def _effects_stem(setup: SetupB | TextSetupB) -> str:
    """The cache name of :func:`effects` without the solver's suffix."""
    return f"B_protocol_effects_{setup.name}"


def _with_effects(name: str, games_key: dict[str, Any], g: dict[str, Any], solver: str,
                  scale: str, recompute: bool) -> dict[str, Any]:
    if solver not in SOLVERS:
        raise ValueError(f"solver must be one of {sorted(SOLVERS)}, got {solver!r}")

    def compute() -> dict[str, Any]:
        both = torch.cat([g["values"][None], g["baseline_values"]])  # (1 + k, N, 2^n)
        res = extract(both.reshape(-1, both.shape[-1]), noise_bound=0.02, **SOLVERS[solver])
        a = res.and_effects.reshape(both.shape)
        o = res.or_effects.reshape(both.shape)
        return {"and": a[0], "or": o[0], "baseline_and": a[1:], "baseline_or": o[1:],
                "objective": res.objective.reshape(both.shape[:-1]), "solver": solver}

    key = _effects_key(games_key, solver)
    eff = results.cached(f"{name}_{solver}", key, compute, recompute=recompute, scale=scale)
    return {**g, **eff}


def _effects_key(games_key: dict[str, Any], solver: str) -> dict[str, Any]:
    return {"games": games_key, "solver": solver, **SOLVERS[solver], "noise_bound": 0.02}


def seconds_per_game(setup: SetupB | TextSetupB, solver: str) -> float:
    """The wall time the stored effects of ``setup`` took per game (target and baselines on
    every sample), from their provenance; NaN when not recorded.

    Args:
        setup: an image or a text setup whose :func:`effects` are stored.
        solver: ``"exact"`` or ``"sgd"``.
    """
    meta = results.load_provenance(f"{_effects_stem(setup)}_{solver}",
                                   _effects_key(setup.key(), solver))
    elapsed = meta.get("provenance", {}).get("elapsed_s")
    return float(elapsed) / (setup.n_samples * (1 + setup.k)) if elapsed else float("nan")


#: misclassified test samples per setup for Fig. 8 (compared with as many correct ones).
N_MISCLASSIFIED = {"smoke": 2, "book": 25, "paper": 25}


def misclassified(setup: SetupB, solver: str = "exact", *, progress: bool = False,
                  recompute: bool = False) -> dict[str, Any]:
    """Fig. 8's samples: :func:`misclassified_games` and their effects (as :func:`effects`).

    Args:
        setup: an image setup.
        solver: ``"exact"`` or ``"sgd"`` (:func:`effects`).
        progress: a progress bar over the samples.
        recompute: ignore stored results and compute them again.
    """
    g = misclassified_games(setup, progress=progress, recompute=recompute)
    return _with_effects(f"B_protocol_misclassified_effects_{setup.name}",
                         _misclassified_key(setup), g, solver, setup.scale, recompute)


def _misclassified_key(setup: SetupB) -> dict[str, Any]:
    return {"games": setup.key(), "misclassified": N_MISCLASSIFIED[setup.scale]}


def misclassified_games(setup: SetupB, *, progress: bool = False, recompute: bool = False
                        ) -> dict[str, Any]:
    """The games of ``N_MISCLASSIFIED`` random test images the target misclassifies (reward: the
    log-odds of the true label; cached), players drawn as for :func:`games`; ``n_wrong`` is how
    many the test split holds; ``correct_positions``: as many of :func:`games`' samples
    (positions in its order) that the target classifies correctly, the group Fig. 8 compares
    with.

    Args:
        setup: an image setup.
        progress: a progress bar over the samples.
        recompute: ignore a stored result and compute it again.
    """
    def compute() -> dict[str, Any]:
        t, bases = _stages(setup, progress)
        _, y = load_images(setup.dataset, "test")
        idx = np.asarray(t["misclassified_indices"])
        return {"values": t["misclassified_values"],
                "baseline_values": torch.stack([b["misclassified_values"] for b in bases]),
                "labels": y[idx], "indices": torch.as_tensor(idx),
                "players": t["misclassified_players"], "layer": t["layer"],
                "n_wrong": t["n_wrong"], "correct_positions": t["correct_positions"]}

    return results.cached(f"B_protocol_misclassified_games_{setup.name}",
                          _misclassified_key(setup), compute, recompute=recompute,
                          scale=setup.scale)


def correct_group(res: dict[str, Any], positions: torch.Tensor) -> dict[str, Any]:
    """The samples at ``positions`` (into the sample axis) of ``res``, a result of
    :func:`effects` (games and effects), as a result of the same form."""
    pos = torch.as_tensor(positions)
    out = dict(res)
    for key in ("values", "and", "or", "labels", "indices"):
        out[key] = torch.as_tensor(res[key])[pos]
    for key in ("baseline_values", "baseline_and", "baseline_or"):
        out[key] = res[key][:, pos]
    out["players"] = [res["players"][int(i)] for i in pos]
    return out


#: parameter-noise and FGSM levels of Figs. 5 and 7 per scale (:func:`papers.noise.noise_levels`).
NOISE_B: dict[str, dict[str, Any]] = {
    "smoke": {"sigmas": [0.0, 0.01, 0.03], "draws": 1, "epsilons": [0.0, 0.1], "noise_seed": 0,
              "n_eval": 200},
    "book": {"sigmas": [0.0, 0.002, 0.005, 0.0075, 0.01, 0.02], "draws": 2,
             "epsilons": [0.0, 0.01, 0.03, 0.1, 0.3], "noise_seed": 0, "n_eval": 2000},
    "paper": {"sigmas": [0.0, 0.002, 0.005, 0.01, 0.02], "draws": 10,
              "epsilons": [0.0, 0.01, 0.03, 0.1, 0.3], "noise_seed": 0, "n_eval": 10000},
}


def noise(setup: SetupB, *, progress: bool = False, recompute: bool = False) -> dict[str, Any]:
    """Figs. 5 and 7: the target's interactions on the setup's samples clean and under every
    level of ``NOISE_B[scale]`` (cached; keys of :func:`papers.noise.run_noise`).

    Args:
        setup: an image setup.
        progress: a progress bar over the levels.
        recompute: ignore a stored result and compute it again.
    """
    from papers.noise import noise_effects

    settings = NOISE_B[setup.scale]

    def compute() -> dict[str, Any]:
        g = games(setup)
        return noise_effects(model_stage(setup, setup.target(), progress=progress)["noise"],
                             clean_values=g["values"], baseline_values=g["baseline_values"])

    return results.cached(f"B_protocol_noise_{setup.name}", {"games": setup.key(), **settings},
                          compute, recompute=recompute, scale=setup.scale)


def upper_share(*effects_: torch.Tensor) -> float:
    r"""The gate: how much of the strength sits in the upper half of the orders,
    :math:`\sum_{|S| \ge n/2} |I_S| \,/ \sum_{|S| \ge 1} |I_S|` over every sample and every
    given effect tensor together.

    Args:
        effects_: effect tensors (..., :math:`2^n`), e.g. the AND and the OR effects.

    Returns:
        The share (NaN when every effect is zero).
    """
    upper = total = 0.0
    for eff in effects_:
        e = torch.as_tensor(eff, dtype=torch.float64).abs()
        n = int(round(np.log2(e.shape[-1])))
        m = orders(n)
        upper += float(e[..., m >= n / 2].sum())
        total += float(e[..., m >= 1].sum())
    return upper / total if total > 0 else float("nan")


def gate(res_exact: dict[str, Any], res_sgd: dict[str, Any] | None = None) -> dict[str, float]:
    """The share of the strength at m ≥ n/2 (:func:`upper_share`) of the target's raw Harsanyi
    effects (the Möbius transform of its values), its exact sparsest AND-OR effects and (when
    given) its AND-OR effects from the lab's SGD.

    Args:
        res_exact: :func:`effects` with ``"exact"``.
        res_sgd: :func:`effects` with ``"sgd"``, or None.

    Returns:
        ``{"harsanyi": share, "exact": share[, "sgd": share]}``.
    """
    out = {"harsanyi": upper_share(mobius(res_exact["values"])),
           "exact": upper_share(res_exact["and"], res_exact["or"])}
    if res_sgd is not None:
        out["sgd"] = upper_share(res_sgd["and"], res_sgd["or"])
    return out


def chosen_setups(scale: str, only: str | None = None, *, text: bool = True
                  ) -> list[SetupB | TextSetupB]:
    """The setups of a scale, or those named in ``only``.

    Args:
        scale: smoke (ResNet-20 on MNIST), book or paper (:data:`SETUPS_B` and, with ``text``,
            :data:`TEXT_SETUPS_B`).
        only: ``"model:dataset,model:dataset"`` (``minilm:rt_sentences`` is the text setup), or
            None for the scale's setups.
        text: include text setups (Fig. 2 has one; Figs. 4, 5, 7 and 8 are run on the
            images, so their chapter leaves them out).
    """
    if not only:
        every: list[SetupB | TextSetupB] = [SetupB(m, d, scale) for m, d in
                                            ([SETUPS_B[0]] if scale == "smoke" else SETUPS_B)]
        if scale != "smoke":
            every += [TextSetupB(m, scale) for m, _ in TEXT_SETUPS_B]
    else:
        pairs = [tuple(p.strip() for p in part.split(":")) for part in only.split(",")
                 if part.strip()]
        every = [TextSetupB(p[0], scale, dataset=p[1]) if len(p) == 2 and is_text(*p)
                 else SetupB(*parse_setups(":".join(p))[0], scale) for p in pairs]
    return [s for s in every if text or not isinstance(s, TextSetupB)]


def setup_record(setup: SetupB, g: dict[str, Any]) -> dict[str, Any]:
    """The setup's verdict-record entry with its models' accuracies (from its games ``g``)."""
    extra = {"target_val_acc": round(float(g["target_val_acc"]), 4)} if "target_val_acc" in g else {}
    return {**setup.record(), "target_test_acc": round(float(g["target_test_acc"]), 4), **extra,
            "baseline_acc": [round(float(a), 4) for a in g["baseline_val_acc"]],
            "samples": "random test samples", "layer": g["layer"]}


def gate_row(setup: SetupB, ex: dict[str, Any], sg: dict[str, Any]) -> dict[str, Any]:
    """One row of the gate table: upper-order shares (:func:`gate`) and salient counts, from
    the setup's :func:`effects` of the exact optimum ``ex`` and of the lab's SGD ``sg``."""
    from ibn.distributions import salient, tau_from_values

    shares = gate(ex, sg)
    tau = tau_from_values(ex["values"])
    count = {name: float((salient(r["and"], tau).sum(-1) + salient(r["or"], tau).sum(-1))
                         .double().mean()) for name, r in (("exact", ex), ("sgd", sg))}
    return {"setup": setup.name, "target test acc": float(ex["target_test_acc"]),
            "upper share, Harsanyi": shares["harsanyi"], "upper share, exact": shares["exact"],
            "upper share, lab SGD": shares["sgd"], "salient per sample, exact": count["exact"],
            "salient per sample, lab SGD": count["sgd"],
            "s per game, exact": seconds_per_game(setup, "exact"),
            "s per game, lab SGD": seconds_per_game(setup, "sgd")}


def plot_fig2(setups: list[SetupB], judged: dict):
    r"""Fig. 2 per setup: generalizable and non-generalizable :math:`A^{(m),\pm}` (k = all
    baselines; Conventions page, eq-gen-non) of the exact optimum and of the lab's SGD, one row
    per setup.

    Args:
        setups: the setups, one row each.
        judged: ``judged[(setup name, solver)]``, :func:`papers.claims_b.judge_fig2` of each.
    """
    import matplotlib.pyplot as plt

    from ibn.distributions import plots

    fig, axes = plt.subplots(len(setups), 4, figsize=(PAGE_WIDTH, 2.3 * len(setups) + 0.4),
                             squeeze=False, sharex=True)
    for row, s in enumerate(setups):
        for col, (solver, part) in enumerate((("exact", 1), ("exact", 2), ("sgd", 1), ("sgd", 2))):
            ax = axes[row, col]
            curve = judged[(s.name, solver)]["curves"][part].mean()
            plots.plot_strengths(curve, ax, color="tab:blue" if part == 1 else "tab:red")
            what = "gen." if part == 1 else "non-gen."
            if row == 0:
                ax.set_title(f"{'exact' if solver == 'exact' else 'lab SGD'}: {what}",
                             fontsize=10)
            ax.axhline(0, color="black", lw=0.5)
            ax.set_xlabel("order $m$" if row == len(setups) - 1 else "")
            ax.set_xticks(range(1, curve.n + 1, 3))
            ax.set_ylabel(f"{s.name}\n" + r"$A^{(m),\pm}$" if col == 0 else "")
        for pair in ((0, 1), (2, 3)):  # shared y within each solver's pair
            lo = min(axes[row, c].get_ylim()[0] for c in pair)
            hi = max(axes[row, c].get_ylim()[1] for c in pair)
            for c in pair:
                axes[row, c].set_ylim(lo, hi)
    fig.tight_layout()
    return fig
