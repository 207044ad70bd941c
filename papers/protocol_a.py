"""Paper A's discovery at the reference protocol (Deng et al. ICLR 2022, which paper A follows;
Conventions page, conventions-protocol-a, conventions-multiorder).

A :class:`SetupA` is an image model on a dataset at a scale. Its model is the reference-recipe
target of :mod:`papers.reference` (32×32, the full training split less the validation images);
its players are the cells of a 16×16 grid (n = 256, 2×2-pixel cells, baseline 0 in the
standardised input space); its images are the first correctly classified training images of
each class (the reference takes 5 per class). :func:`profile` runs the reference's sampled
estimate of I^(m)(i, j) (pairs j among the 24 neighbours within distance 2, random contexts per
pair and order, the 13 reference ratios) on the model at initialisation, early in training
(the step at 5 % of the run) and at the kept (best-validation) epoch, and records each order's
noise floor. :func:`u_rule` is the rule fixed before the runs; :func:`planted_u_game` is its
positive control.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import torch

from ibn import multiorder as mo
from ibn import results
from ibn.data import load_images
from ibn.maskers import PatchMasker
from ibn.model_store import model_dir
from ibn.models import build
from ibn.multiorder.profiles import sampled_orders
from papers._setup import PAGE_WIDTH, dataset_label, model_label
from papers.reference import (ACCURACY_FLOOR, ImageSetup, parse_setups, recipe,
                              train_reference)

__all__ = ["SetupA", "SCALES_A", "STAGES", "SETUPS_A", "pick_images", "profile", "departures", "image_profile",
           "noise_floor", "setup_record", "discovery_records", "plot_profiles",
           "u_rule", "dip_depth", "learned_rule", "LEARNED_RATIO", "planted_u_game",
           "control_profile", "chosen_setups", "profile_name", "stored_profiles",
           "effective_n_rows"]

#: images (per class), pairs, contexts and grid per scale and stage ("final" or the others).
SCALES_A: dict[str, dict[str, Any]] = {
    "smoke": {"grid": 8, "per_class": 1, "classes": 2, "final": (8, 8), "other": (4, 4)},
    "book": {"grid": 16, "per_class": 1, "classes": 10, "final": (50, 50), "other": (16, 16)},
    "paper": {"grid": 16, "per_class": 5, "classes": 10, "final": (200, 100), "other": (200, 100)},
}
STAGES = ("init", "early", "final")
SETUPS_A = (("alexnet", "mnist"), ("resnet20", "mnist"), ("vgg11", "mnist"),
            ("alexnet", "fashion-mnist"), ("resnet20", "fashion-mnist"), ("vgg11", "fashion-mnist"))


@dataclass(frozen=True)
class SetupA(ImageSetup):
    """One paper-A setup: ``model`` on ``dataset`` at ``scale``."""

    SCALES = tuple(SCALES_A)

    @property
    def settings(self) -> dict[str, Any]:
        return SCALES_A[self.scale]

    @property
    def n_players(self) -> int:
        return self.settings["grid"] ** 2

    def key(self, stage: str) -> dict[str, Any]:
        """What determines the profile at ``stage`` (``"init"``, ``"early"`` or ``"final"``):
        the target's training key, the grid, the image choice, pairs, contexts, radius, the
        order ratios and the baseline (the scale itself is not part of it)."""
        pairs, contexts = self.settings["final" if stage == "final" else "other"]
        return {"model": self.target().key(), "stage": stage, "grid": self.settings["grid"],
                "per_class": self.settings["per_class"], "classes": self.settings["classes"],
                "pairs": pairs, "contexts": contexts, "radius": 2,
                "ratios": list(mo.REFERENCE_RATIOS), "baseline": 0.0}


def pick_images(net: torch.nn.Module, dataset: str, per_class: int, classes: int
                ) -> torch.Tensor:
    """The reference's image choice (Conventions page, conventions-protocol-a).

    Args:
        net: the trained classifier (eval mode).
        dataset: ``"mnist"`` or ``"fashion-mnist"``.
        per_class: how many images of each class.
        classes: the classes ``0 .. classes − 1`` to draw from.

    Returns:
        The sorted indices (into the training split) of, for each class, the first
        ``per_class`` images in index order that ``net`` classifies correctly.
    """
    x, y = load_images(dataset, "train")
    chosen: list[int] = []
    with torch.inference_mode():
        for c in range(classes):
            cand = torch.nonzero(y == c).flatten()
            for start in range(0, len(cand), 256):
                block = cand[start:start + 256]
                ok = block[net(x[block]).argmax(1) == c]
                chosen += ok[: per_class - sum(int(y[i]) == c for i in chosen)].tolist()
                if sum(int(y[i]) == c for i in chosen) >= per_class:
                    break
    return torch.as_tensor(sorted(chosen), dtype=torch.long)


def _stage_model(setup: SetupA, stage: str) -> tuple[torch.nn.Module, dict[str, Any]]:
    """The setup's model at ``stage`` (a fresh copy for init and early: the stored final
    model is shared). The initial weights are the seeded build that training starts from, so
    they need no stored checkpoint; the early weights are the training's step checkpoint."""
    spec = setup.target()
    net, info = train_reference(spec)
    if stage == "final":
        return net, info
    fresh = build(spec.model, seed=spec.seed, in_channels=1)
    if stage == "early":
        path = model_dir(spec.name, spec.key()) / "train" / f"step_{info['early_step']:07d}.pt"
        fresh.load_state_dict(torch.load(path, map_location="cpu", weights_only=True)["model"])
    return fresh.eval(), info


def noise_floor(sem: np.ndarray) -> np.ndarray:
    """Per order, the expected |mean over contexts| of a pair whose true I^(m)(i, j) is 0 given
    the standard errors of the context means: sqrt(2/π)·sem, averaged over images and pairs
    (sem: (N, P, K) -> (K,))."""
    return np.sqrt(2 / np.pi) * np.asarray(sem).mean(axis=(0, 1))


def profile_name(setup: SetupA, stage: str) -> str:
    """The cache name of :func:`profile` for ``setup`` at ``stage``:
    ``A_protocol_<model>_<dataset>_<stage>``."""
    return f"A_protocol_{setup.name}_{stage}"


def profile(setup: SetupA, stage: str, *, recompute: bool = False,
            progress: bool = False) -> dict[str, Any]:
    r"""The sampled order profile of the setup's model at ``stage`` (cached; Conventions page,
    eq-strength, eq-relative-strength, eq-reference-orders).

    Each image's estimate is kept as it finishes (:class:`ibn.results.Parts`): an interrupted
    run resumes at the image it stopped in.

    Args:
        setup: the model, data set and scale.
        stage: ``"init"`` (the weights before training), ``"early"`` (the step at 5 % of the
            training) or ``"final"`` (the kept best-validation epoch).
        recompute: ignore a stored result and compute it again.
        progress: show a progress bar over the images.

    Returns:
        ``orders`` and ``ratios`` (K,), ``strength`` (N, K): :math:`S^{(m)}(x)` per image,
        ``J`` (K,): :math:`J^{(m)}`, ``floor`` (K,): the noise floor in strength units
        (:func:`noise_floor`), ``mean``/``sem`` (N, P, K), ``pairs`` (N, P, 2), the images'
        ``indices`` and ``labels``, ``test_acc``, ``best_epoch`` and ``early_step``.

    Raises:
        ValueError: an unknown ``stage``.
    """
    if stage not in STAGES:
        raise ValueError(f"stage must be one of {STAGES}, got {stage!r}")
    s = setup.settings
    pairs, contexts = s["final" if stage == "final" else "other"]

    def compute() -> dict[str, Any]:
        final, info = train_reference(setup.target())
        idx = pick_images(final, setup.dataset, s["per_class"], s["classes"])
        net, _ = _stage_model(setup, stage)
        done = results.Parts(profile_name(setup, stage), setup.key(stage))
        out = image_profile(net, setup.dataset, idx, grid=s["grid"], pairs=pairs,
                            contexts=contexts, seed=setup.seed, checkpoint=done.get,
                            progress=progress)
        out.update(test_acc=float(info["test_acc"]), best_epoch=int(info["best_epoch"]),
                   early_step=int(info["early_step"]), scale=setup.scale)
        return out

    return results.cached(profile_name(setup, stage), setup.key(stage), compute,
                          recompute=recompute, scale=setup.scale)


def image_profile(net: torch.nn.Module, dataset: str, indices: torch.Tensor, *, grid: int,
                  pairs: int, contexts: int, seed: int,
                  checkpoint: Callable[..., Any] | None = None, progress: bool = False
                  ) -> dict[str, Any]:
    r"""The reference's sampled estimate of :math:`I^{(m)}(i, j)` on training images of a
    classifier (Conventions page, eq-strength, eq-relative-strength, eq-reference-orders).

    The players are the cells of a ``grid`` × ``grid`` grid at baseline 0 (the standardised
    black pixel's mean), the reward the log-odds of the image's label; pairs :math:`j` among
    the 24 neighbours of :math:`i` within distance 2, ``contexts`` random contexts per pair and
    order, the 13 reference ratios.

    Args:
        net: the classifier (eval mode).
        dataset: ``"mnist"`` or ``"fashion-mnist"`` (the images of its training split).
        indices: the images' indices into the training split (:func:`pick_images`).
        grid: the side of the grid of players.
        pairs: the pairs per image.
        contexts: the contexts per pair and order.
        seed: the seed of the pairs and contexts (image k is seeded ``seed + k``).
        checkpoint: keeps each image's finished estimate (``results.Parts(...).get``), or None.
        progress: show a progress bar over the images.

    Returns:
        The keys of :func:`ibn.multiorder.profiles.sampled_orders` (``strength``, ``J``,
        ``ratios``, ``mean``, ``sem``, ...), ``floor`` (:func:`noise_floor`), the images'
        ``indices`` and ``labels``.

    Raises:
        ValueError: no images in ``indices``.
    """
    from ibn.games import evaluate

    if len(indices) == 0:
        raise ValueError("indices: no images to profile (does the model classify any correctly?)")
    x, y = load_images(dataset, "train")
    masker = PatchMasker(grid=(grid, grid), baseline=0.0, batch_size=1024)
    evaluators = [(lambda m, xi=x[i], yi=int(y[i]): evaluate(net, xi, masker, m, target=yi,
                                                              batch_size=1024, progress=False))
                  for i in indices.tolist()]
    out = sampled_orders(evaluators, masker.n_players, grid=(grid, grid), pairs=None,
                         n_pairs=pairs, radius=2, contexts=contexts, ratios=mo.REFERENCE_RATIOS,
                         orders=None, seed=seed, checkpoint=checkpoint, progress=progress)
    out.update(floor=noise_floor(out["sem"]), indices=indices.numpy(), labels=y[indices].numpy())
    return out


def u_rule(ratios: np.ndarray, strength: np.ndarray, floor: np.ndarray) -> tuple[bool, str]:
    r"""The bottleneck rule (fixed before the runs): the mean :math:`J^{(m)}` over
    :math:`r \in \{0, .05\}` and over :math:`r \in \{.95, 1\}` both above the mean over
    :math:`r \in [.3, .7]`, and the mid-order mean strength above its mean noise floor.

    Args:
        ratios: the order ratios :math:`r = m/(n-2)` (K,).
        strength: :math:`S^{(m)}` per image (N, K), or their mean (K,).
        floor: the noise floor per order (K,), in strength units.

    Returns:
        (whether the rule holds, one line with the three comparisons).
    """
    low, mid, high, S, mid_mask = _bands(ratios, strength)
    above = S[mid_mask].mean() > np.asarray(floor, dtype=float)[mid_mask].mean()
    checks = {f"J low {low:.2f} > J mid {mid:.2f}": low > mid,
              f"J high {high:.2f} > J mid": high > mid,
              f"mid strength {S[mid_mask].mean():.3g} > noise floor "
              f"{np.asarray(floor)[mid_mask].mean():.3g}": bool(above)}
    return all(checks.values()), "; ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in checks.items())


def _bands(ratios: np.ndarray, strength: np.ndarray
           ) -> tuple[float, float, float, np.ndarray, np.ndarray]:
    """Mean J over r ∈ {0, .05}, over r ∈ [.3, .7] and over r ∈ {.95, 1}, the mean strength
    per order and the mid band's mask."""
    r = np.asarray(ratios, dtype=float)
    S = np.asarray(strength, dtype=float)
    S = S.mean(0) if S.ndim == 2 else S
    J = S / S.mean()
    low = J[np.isin(np.round(r, 3), (0.0, 0.05))].mean()
    high = J[np.isin(np.round(r, 3), (0.95, 1.0))].mean()
    mid_mask = (r >= 0.3 - 1e-9) & (r <= 0.7 + 1e-9)
    return float(low), float(J[mid_mask].mean()), float(high), S, mid_mask


#: the dip of a trained network counts as learned when its depth is at most this fraction of
#: the initial network's (depth: mid-band J over the smaller of the low and high bands' J).
LEARNED_RATIO = 0.8


def dip_depth(p: dict[str, Any]) -> float:
    r"""The depth of the middle dip of a profile: :math:`J` over :math:`r \in [.3, .7]`
    divided by the smaller of :math:`J` over :math:`r \in \{0, .05\}` and over
    :math:`r \in \{.95, 1\}` (below 1: a dip in the middle; the smaller, the deeper).

    Args:
        p: a profile with ``ratios`` and ``strength`` (:func:`profile`).
    """
    low, mid, high, _, _ = _bands(p["ratios"], p["strength"])
    return mid / min(low, high)


def learned_rule(init: dict[str, Any], final: dict[str, Any]) -> tuple[bool, str]:
    """The bottleneck is learned (fixed before the runs on the other setups): the initial
    network's profile fails :func:`u_rule`, or the trained network's :func:`dip_depth` is at
    most :data:`LEARNED_RATIO` times the initial one's (training deepened the dip).

    Args:
        init: the profile at initialisation (with ``ratios``, ``strength``, ``floor``).
        final: the trained network's profile.

    Returns:
        (whether the rule holds, one line with the depths).
    """
    u_init = u_rule(init["ratios"], init["strength"], init["floor"])[0]
    d0, d1 = dip_depth(init), dip_depth(final)
    ok = (not u_init) or d1 <= LEARNED_RATIO * d0
    return ok, (f"U at initialisation: {'yes' if u_init else 'no'}; dip depth (mid J / min(low, "
                f"high J)) {d0:.2f} at initialisation, {d1:.2f} trained: "
                f"{'deeper' if ok else 'not deeper'} (rule: <= {LEARNED_RATIO} x initial)")


def planted_u_game(n: int, *, power: int = 4, noise: float = 0.02, seed: int = 0
                   ) -> Callable[[torch.Tensor], torch.Tensor]:
    """A game whose multi-order interactions are U-shaped by construction (the control).

    v(S) = F(|S|) + noise·e₃(u_S): F is chosen so that its second difference is
    D(m) = (1 − r)^p + r^p with r = m/(n − 2), so every pair has I^(m)(i, j) = D(m) (the
    closed form's own shape: 1 at the lowest and highest orders, 2·0.5^p in the middle);
    e₃(u_S) = Σ_{a<b<c ∈ S} u_a u_b u_c with u ~ N(0, 1) per player adds context noise
    (Δv gains noise·u_i u_j Σ_{c∈S} u_c, zero on average).

    Args:
        n: the number of players.
        power: the exponent p of the planted shape (1 plants a flat profile).
        noise: the weight of the context noise.
        seed: the seed of the players' u.

    Returns:
        ``evaluate(masks (B, n)) -> (B,)``, the game's values.
    """
    r = torch.arange(n - 1, dtype=torch.float64) / (n - 2)
    D = (1 - r) ** power + r ** power
    F = torch.zeros(n + 1, dtype=torch.float64)
    for m in range(n - 1):
        F[m + 2] = 2 * F[m + 1] - F[m] + D[m]
    u = torch.as_tensor(np.random.default_rng(seed).standard_normal(n))

    def evaluate(masks: torch.Tensor) -> torch.Tensor:
        m = torch.as_tensor(masks, dtype=torch.bool)
        w = m.double()
        p1, p2, p3 = w @ u, w @ u ** 2, w @ u ** 3
        e3 = (p1 ** 3 - 3 * p1 * p2 + 2 * p3) / 6
        return F[m.sum(1)] + noise * e3

    return evaluate


def control_profile(setup: SetupA, n_games: int = 3, *, power: int = 4) -> dict[str, Any]:
    """The sampler and settings of the setup's final stage run on planted games (the control).

    Args:
        setup: whose grid, pairs and contexts are used.
        n_games: how many games of :func:`planted_u_game` (seeded 0, 1, ...).
        power: their exponent (``power=1`` plants a flat profile: (1 − r) + r = 1 at every
            order).

    Returns:
        The keys of :func:`ibn.multiorder.profiles.sampled_orders` and ``floor``.
    """
    s = setup.settings
    pairs, contexts = s["final"]
    g = s["grid"]
    games = (planted_u_game(g * g, power=power, seed=i) for i in range(n_games))
    out = sampled_orders(games, g * g, grid=(g, g), pairs=None, n_pairs=pairs, radius=2,
                         contexts=contexts, ratios=mo.REFERENCE_RATIOS, orders=None,
                         seed=setup.seed)
    out["floor"] = noise_floor(out["sem"])
    return out



def setup_record(setup: SetupA, final: dict[str, Any]) -> dict[str, Any]:
    """The verdict-record entry of ``setup`` from its ``final``-stage profile (model, data
    set, n, images, grid, pairs, contexts, accuracy, epochs, kept epoch, scale)."""
    s = setup.settings
    pairs, contexts = s["final"]
    return {"model": setup.model, "dataset": setup.dataset, "n_players": setup.n_players,
            "n_samples": int(len(final["indices"])), "grid": f"{s['grid']}x{s['grid']}",
            "pairs": pairs, "contexts": contexts, "target_test_acc": round(float(final["test_acc"]), 4),
            "epochs": setup.target().recipe.epochs, "best_epoch": int(final["best_epoch"]),
            "scale": setup.scale}


def departures(setups: list[SetupA]) -> str:
    """The departures of ``setups`` from the reference protocol (the ``paper`` settings and
    recipe), in one sentence for the verdict box."""
    s, ref = setups[0].settings, SCALES_A["paper"]
    epochs = sorted({x.target().recipe.epochs for x in setups})
    ref_epochs = recipe("paper", setups[0].dataset, "target", setups[0].model).epochs
    floors = ", ".join(f"≥ {100 * ACCURACY_FLOOR[d]:g} % on {dataset_label(d)}"
                       for d in dict.fromkeys(x.dataset for x in setups))
    return (f"{s['per_class'] * s['classes']} images ({s['per_class']} per class) with "
            f"{s['final'][0]} pairs × {s['final'][1]} contexts per order at the kept epoch, where "
            f"the reference takes {ref['per_class'] * ref['classes']} images, {ref['final'][0]} "
            f"pairs and {ref['final'][1]} contexts; models trained for "
            + (f"{epochs[0]}" if len(epochs) == 1 else f"{epochs[0]} to {epochs[-1]}")
            + f" epochs of the reference recipe instead of {ref_epochs} (to {floors}).")


def discovery_records(profiles: dict[tuple[str, str], dict[str, Any]], setups: list[SetupA],
                      control: dict[str, Any], *, scale: str, chapter: str,
                      planned: list[str] | tuple[str, ...] = (),
                      flat_control: dict[str, Any] | None = None) -> list:
    """The discovery claims' records: ``A.discovery.u_shape`` (the final models' profiles pass
    :func:`u_rule`), ``A.discovery.early`` (the profile is already U-shaped at 5 % of the
    training and stays so at the end) and, with ``flat_control`` (:func:`control_profile` with
    ``power=1``, standing in for an initial network without a dip), ``A.discovery.learned``
    (:func:`learned_rule` from initialisation to the end; its control: flat → planted U).

    Args:
        profiles: ``profiles[(setup name, stage)]``, :func:`profile` of every setup and stage.
        setups: the setups run.
        control: :func:`control_profile` of the planted U.
        scale: the scale of the run (smoke, book or paper).
        chapter: the chapter's source, for the records.
        planned: the names of the setups of the scale; those not run are named in ``why``.
        flat_control: :func:`control_profile` with ``power=1``, or None (no ``learned``
            record).

    Returns:
        The :class:`papers.verdicts.Verdict` records.
    """
    from papers.verdicts import Control, Verdict, categorize

    ok, why = u_rule(control["ratios"], control["strength"], control["floor"])
    ctl = Control("a game whose every pair has I^(m)(i, j) = (1 − r)^4 + r^4 plus context noise "
                  "(papers.protocol_a.planted_u_game), through the same sampler, settings and rule",
                  "detected" if ok else "missed", why)
    recs = {s.name: setup_record(s, profiles[(s.name, "final")]) for s in setups}
    is_powered = scale != "smoke" and all(
        r["n_players"] == 256 and r["n_samples"] >= 10
        and r["target_test_acc"] >= ACCURACY_FLOOR[r["dataset"]] for r in recs.values())

    def judged(stage: str) -> list[bool]:
        return [u_rule(p["ratios"], p["strength"], p["floor"])[0]
                for p in (profiles[(s.name, stage)] for s in setups)]

    final, early, init = judged("final"), judged("early"), judged("init")
    names = [s.name for s in setups]
    missing = [p for p in planned if p not in names]
    claims = [("A.discovery.u_shape", "Fig. 1", "Trained image classifiers encode strong low- and "
               "high-order interactions and weak mid-order ones (J^(m) U-shaped over r = m/n).",
               final, ctl, None),
              ("A.discovery.early", "Fig. 1 (over training)", "The bottleneck appears early in "
               "training (by about 5 % of it) and persists to the end.",
               [a and b for a, b in zip(early, final)], ctl, None)]
    if flat_control is not None:
        ok_l, why_l = learned_rule(flat_control, control)
        ctl_l = Control("the same sampler and rule from a planted flat profile (I^(m)(i, j) = 1 "
                        "at every order) to the planted U", "detected" if ok_l else "missed", why_l)
        learned = [learned_rule(profiles[(s.name, "init")], profiles[(s.name, "final")])
                   for s in setups]
        claims.append(("A.discovery.learned", "Fig. 1 (over training)", "The bottleneck is "
                       "learned: training makes the mid orders weaker, relative to the lowest and "
                       "highest, than in the network at initialisation.",
                       [flag for flag, _ in learned], ctl_l,
                       "; ".join(f"{n}: {w}" for n, (_, w) in zip(names, learned))))
    out = []
    for claim, figure, statement, present, control_, detail in claims:
        failed = [n for n, p in zip(names, present) if not p]
        why = (f"{sum(present)} of {len(present)} setups pass"
               + (f" (not: {', '.join(failed)})" if failed else "")
               + (f"; {detail}" if detail else
                  f"; at initialisation {sum(init)} of {len(init)} already pass")
               + ("" if is_powered else "; not every setup is at the reference protocol")
               + (f"; {len(missing)} planned setup{'s' if len(missing) > 1 else ''} not run yet"
                  if missing else ""))
        out.append(Verdict(claim=claim, paper="A", figure=figure, statement=statement,
                           verdict=categorize(present, control_, powered=is_powered), why=why,
                           scale=scale, setups=list(recs.values()), control=control_,
                           chapter=chapter))
    return out


def plot_profiles(setups: list[SetupA], profiles: dict[tuple[str, str], dict[str, Any]],
                  control: dict[str, Any] | None = None):
    r"""A figure of :math:`J^{(m)}` over :math:`r` per setup at the three stages, each with its
    noise floor (dotted, the same normalisation).

    Args:
        setups: the setups, one panel each.
        profiles: ``profiles[(setup name, stage)]`` for the three stages.
        control: :func:`control_profile`'s result, drawn in a first panel, or None.
    """
    import matplotlib.pyplot as plt

    panels = len(setups) + (control is not None)
    cols = min(3, panels)
    rows = -(-panels // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(PAGE_WIDTH, 2.7 * rows), squeeze=False,
                             sharex=True)
    items = ([("control: planted U", {"final": control})] if control is not None else []) + [
        (f"{model_label(s.model)}, {dataset_label(s.dataset)}",
         {st: profiles[(s.name, st)] for st in STAGES}) for s in setups]
    colours = {"init": "tab:gray", "early": "tab:orange", "final": "tab:blue"}
    for ax, (title, stages) in zip(axes.flat, items):
        for st, p in stages.items():
            S = np.asarray(p["strength"]).mean(0)
            norm = S.mean()
            ax.plot(p["ratios"], S / norm, marker=".", color=colours[st], label=st)
            ax.plot(p["ratios"], np.asarray(p["floor"]) / norm, ":", color=colours[st], lw=1)
        ax.set_title(title, fontsize=10)
        ax.set_xlabel("$r = m/(n-2)$")
        ax.set_ylabel("$J^{(m)}$")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=9)
    for ax in list(axes.flat)[len(items):]:
        ax.set_visible(False)
    fig.tight_layout()
    return fig


def chosen_setups(scale: str, only: str | None = None) -> list[SetupA]:
    """The setups of ``scale`` (smoke: ResNet-20 on MNIST; otherwise :data:`SETUPS_A`), or
    those named in ``only`` ("model:dataset,model:dataset")."""
    every = parse_setups(only, [("resnet20", "mnist")] if scale == "smoke" else list(SETUPS_A))
    return [SetupA(m, d, scale) for m, d in every]


def stored_profiles(scale: str, stage: str = "final") -> dict[str, dict[str, Any]]:
    """The ``stage`` profiles of the setups of ``scale`` that are stored (computed by the
    protocol chapter or :mod:`papers.run_protocol`), by setup name; none is computed here."""
    out = {}
    for s in chosen_setups(scale):
        if results.result_path(profile_name(s, stage), s.key(stage)).is_file():
            out[s.name] = results.load_result(profile_name(s, stage), s.key(stage))
    return out


def effective_n_rows(profiles: dict[str, dict[str, Any]], n_max: float = 255.0
                     ) -> list[dict[str, Any]]:
    r"""Paper A's closed form (:func:`ibn.multiorder.theory.fit_effective_n`; Conventions page,
    eq-learning-signal) fitted to each profile's :math:`J^{(m)}` normalised at :math:`r = 0`.

    Args:
        profiles: profiles by setup name (:func:`stored_profiles`).
        n_max: the largest :math:`n'` the fit may take.

    Returns:
        One row per setup: the fitted :math:`n'`, its log-RMSE, and the measured and fitted
        :math:`J` at :math:`r = 1` (relative to :math:`r = 0`), beside the true n.
    """
    from ibn.multiorder.theory import fit_effective_n

    rows = []
    for name, p in profiles.items():
        r, J = np.asarray(p["ratios"], dtype=np.float64), np.asarray(p["J"], dtype=np.float64)
        fit = fit_effective_n(r, J / J[0], n_max=n_max)
        rows.append({"setup": name, "n": int(p["n"]) if "n" in p else None, "n'": fit["n_eff"],
                     "log-RMSE": fit["rmse_log"], "J(1)/J(0) measured": J[-1] / J[0],
                     "J(1)/J(0) fitted": float(fit["curve"][-1])})
    return rows
