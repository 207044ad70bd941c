r"""Paper A's consequences (chapter A4): the low- against high-order comparison, its planted
control and the records (see :mod:`papers.claims_a`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from papers import bottleneck as bn
from papers.bottleneck_runs import N_FEATURES, order_centre, order_of
from papers.claims_a._common import _why

if TYPE_CHECKING:
    import pandas as pd

    from papers.verdicts import Verdict

__all__ = ["NOISE_SD", "CONSEQUENCE_CLAIMS", "consequence_table", "MIN_STEER", "order_centres",
           "steering_gap", "low_vs_high", "direction_table", "consequence_metrics",
           "planted_consequence_models", "consequence_controls", "consequence_records",
           "STRUCTURAL_CLAIM", "structural_record"]


#: a low − high difference counts when it exceeds this many pooled seed sds.
NOISE_SD = 1.0

#: the consequence the book cannot test (no protocol): claim id, paper section, statement.
STRUCTURAL_CLAIM = ("A.consequence.structural", "§6 (structural modelling)",
                    "High-order models capture the structure of their inputs better than "
                    "low-order ones (the abstract's 'structural modeling capability').")

#: the A4 claims: (claim id, figure, statement, quantities or prefixes "fgsm@", which model the
#: paper expects to be better: "low" or "high").
CONSEQUENCE_CLAIMS: tuple[tuple[str, str, str, tuple[str, ...], str], ...] = (
    ("A.consequence.generalization_gap", "§6 (train/test loss gap, VGG-16 on CIFAR-10)",
     "Low-order models generalise better than high-order ones: a smaller gap between test and "
     "training loss and accuracy.", ("loss gap", "acc gap"), "low"),
    ("A.consequence.fitting", "§6",
     "High-order models fit the training data better than low-order ones (lower training "
     "loss, higher training accuracy).", ("train loss", "train acc"), "high"),
    ("A.consequence.adversarial_robustness", "§6 (PGD accuracy, MLP-8 on Census)",
     "Low-order models are more robust to adversarial attacks (FGSM, PGD) than high-order ones.",
     ("fgsm@", "pgd@"), "low"),
    ("A.consequence.noise_robustness", "§6",
     "Low-order models keep more accuracy under Gaussian input noise than high-order ones.",
     ("noise@",), "low"),
    ("A.consequence.masking", "§6",
     "Low-order models keep more accuracy than high-order ones when input variables are masked "
     "at random.", ("mask@",), "low"),
)


def consequence_table(results: Mapping[tuple[str, int], tuple[Any, Mapping[str, Any]]]
                      ) -> pd.DataFrame:
    r"""One row per (model kind, seed) of ``results``: losses, accuracies, the gaps test − train
    loss and train − test accuracy, and the accuracies under attacks and corruptions (not the
    clean one).

    Args:
        results: ``{(kind, seed): (params, result)}`` with the result of
            :func:`papers.bottleneck_runs.a4_consequences` or of :func:`consequence_metrics`
            (``train_loss``, ``train_acc``, ``test_loss``, ``test_acc``, ``robustness``).

    Returns:
        A DataFrame with the columns ``model`` (the kind), ``seed``, ``train loss``,
        ``test loss``, ``loss gap``, ``train acc``, ``test acc``, ``acc gap`` and the keys of
        :func:`papers.bottleneck.robustness` but ``clean`` (``fgsm@ε``, ``pgd@ε``, ``noise@σ``,
        ``mask@f``).
    """
    import pandas as pd

    rows = []
    for (kind, s), (_, res) in results.items():
        rec = {"model": kind, "seed": s, "train loss": res["train_loss"],
               "test loss": res["test_loss"], "loss gap": res["test_loss"] - res["train_loss"],
               "train acc": res["train_acc"], "test acc": res["test_acc"],
               "acc gap": res["train_acc"] - res["test_acc"]}
        rec.update({k: v for k, v in res["robustness"].items() if k != "clean"})
        rows.append(rec)
    return pd.DataFrame(rows)


#: the precondition of a consequence comparison: the high-order models' mean order centre
#: :math:`\bar r` exceeds the low-order models' by at least this (a fifth of the order range),
#: else the two kinds do not differ in what they encode and their quantities are shown, not
#: counted.
MIN_STEER = 0.2


def order_centres(results: Mapping[tuple[str, int], tuple[Any, Mapping[str, Any]]]
                  ) -> dict[str, list[float]]:
    r"""The order centre :math:`\bar r` (:func:`papers.bottleneck_runs.order_centre`) of every run
    of ``results``, by kind.

    Args:
        results: ``{(kind, seed): (params, result)}``, each result with ``ratios`` and ``J`` (the
            :math:`J^{(m)}` curve), e.g. of :func:`papers.bottleneck_runs.a4_consequences`.

    Returns:
        ``{kind: [r̄, ...]}``: the centres of the kind's runs, in the order of ``results``.
    """
    out: dict[str, list[float]] = {}
    for (kind, _), (_, r) in results.items():
        out.setdefault(kind, []).append(order_centre(np.asarray(r["ratios"]), np.asarray(r["J"])))
    return out


def steering_gap(results: Mapping[tuple[str, int], tuple[Any, Mapping[str, Any]]]) -> float:
    r"""The mean order centre :math:`\bar r` (:func:`order_centres`) of the high-order models minus
    that of the low-order models, over the seeds of ``results``.

    Args:
        results: ``{(kind, seed): (params, result)}``, each result with ``ratios`` and ``J``, as
            in :func:`order_centres`.

    Returns:
        The gap as a float; NaN without both kinds ``"low"`` and ``"high"``.
    """
    centre = order_centres(results)
    if not centre.get("low") or not centre.get("high"):
        return float("nan")
    return float(np.mean(centre["high"]) - np.mean(centre["low"]))


def _higher_is_better(col: str) -> bool:
    return ("acc" in col and "gap" not in col) or "@" in col


def low_vs_high(per_seed: pd.DataFrame) -> pd.DataFrame:
    r"""The chapter's low- against high-order comparison of :func:`consequence_table`.

    Per quantity: the seed means, low − high, its size in pooled seed sds
    :math:`\sqrt{(s_{\mathrm{low}}^2 + s_{\mathrm{high}}^2)/2}` (NaN with one seed) and whether the
    low-order model is better (higher accuracy, lower loss or gap).

    Args:
        per_seed: the table of :func:`consequence_table` (one row per kind and seed).

    Returns:
        A DataFrame with one row per quantity: ``quantity``, ``low``, ``high``, ``low − high``,
        ``in pooled sd`` and ``low-order model better``. Empty (with those columns) without both
        kinds ``"low"`` and ``"high"``.
    """
    import pandas as pd

    metrics = [c for c in per_seed.columns if c not in ("model", "seed")]
    if not {"low", "high"} <= set(per_seed["model"]):
        return pd.DataFrame(columns=["quantity", "low", "high", "low − high", "in pooled sd",
                                     "low-order model better"])
    mean = per_seed.groupby("model", sort=False)[metrics].mean()
    sd = per_seed.groupby("model", sort=False)[metrics].std()
    rows = []
    for col in metrics:
        diff = mean.loc["low", col] - mean.loc["high", col]
        pooled = np.sqrt((sd.loc["low", col] ** 2 + sd.loc["high", col] ** 2) / 2)
        better = diff > 0 if _higher_is_better(col) else diff < 0
        rows.append({"quantity": col, "low": mean.loc["low", col], "high": mean.loc["high", col],
                     "low − high": diff, "in pooled sd": diff / pooled if pooled > 0 else np.nan,
                     "low-order model better": bool(better)})
    return pd.DataFrame(rows)


def _part_holds(row: Mapping[str, Any], expected: str) -> bool:
    """The paper's direction by more than :data:`NOISE_SD` pooled sds."""
    z = row["in pooled sd"]
    if not np.isfinite(z) or abs(z) <= NOISE_SD:
        return False
    return bool(row["low-order model better"]) == (expected == "low")


def _parts(table: pd.DataFrame, quantities: Sequence[str]) -> list[dict[str, Any]]:
    return [row for row in table.to_dict("records")
            if any(row["quantity"] == q or (q.endswith("@") and row["quantity"].startswith(q))
                   for q in quantities)]


def direction_table(per_seed: pd.DataFrame, pgd: Sequence[float], fgsm: Sequence[float],
                    *, many_seeds: bool) -> pd.DataFrame:
    r"""The chapter's comparison of the full order of the kinds' means with paper A's order, per
    quantity the paper reports (loss and accuracy gap, training loss, PGD and FGSM accuracy),
    with the means (± sd with ``many_seeds``) and the reference.

    Args:
        per_seed: the table of :func:`consequence_table` (one row per kind and seed).
        pgd: the PGD radii :math:`\varepsilon` of the chapter's settings (the columns
            ``pgd@ε``).
        fgsm: the FGSM radii :math:`\varepsilon` of the chapter's settings (the columns
            ``fgsm@ε``).
        many_seeds: show each mean with its seed sd.

    Returns:
        A DataFrame with one row per comparison: ``quantity``, ``paper's order``, ``order here``
        (the kinds present, sorted by their means), ``agrees``, ``means`` and ``reference`` (the
        paper's numbers). A comparison with fewer than two of its kinds present is left out.

    Raises:
        KeyError: a radius of ``pgd`` or ``fgsm`` without its column in ``per_seed``.
    """
    import pandas as pd

    metrics = [c for c in per_seed.columns if c not in ("model", "seed")]
    mean = per_seed.groupby("model", sort=False)[metrics].mean()
    sd = per_seed.groupby("model", sort=False)[metrics].std()
    checks = [("loss gap", ["low", "normal", "high"], False,
               "VGG-16 CIFAR-10 gap 0.396 / 0.507 / 0.614 (low < normal < high)"),
              ("acc gap", ["low", "normal", "high"], False, "same direction as the loss gap"),
              # Table 3 gives the normal and the high-order model the same training loss, so only
              # the low-order model's place is the paper's order
              ("train loss", ["low", "normal"], True,
               "Table 3: the low-order model fits worst (normal and high-order: the same loss)"),
              ("train loss", ["low", "high"], True, "the same (low-order model worst)")]
    checks += [(f"pgd@{e:g}", ["low", "normal", "mid", "high"], True,
                "MLP-8 Census PGD 44.65 / 39.33 / 18.10 / 2.02 (low > normal > mid > high)")
               for e in pgd]
    checks += [(f"fgsm@{e:g}", ["low", "normal", "mid", "high"], True,
                "expected like PGD: low most robust") for e in fgsm]
    rows = []
    for col, expected, descending, note in checks:
        present = [k for k in expected if k in mean.index]
        if len(present) < 2:
            continue
        got = order_of(mean[col], present, descending)
        rows.append({"quantity": col, "paper's order": (" > " if descending else " < ").join(present),
                     "order here": (" > " if descending else " < ").join(got),
                     "agrees": got == present,
                     "means": ", ".join(f"{k} {mean.loc[k, col]:.3f}±{sd.loc[k, col]:.3f}"
                                        if many_seeds else f"{k} {mean.loc[k, col]:.3f}"
                                        for k in present), "reference": note})
    return pd.DataFrame(rows)


def consequence_metrics(model: nn.Module, tab: Any, settings: Mapping[str, Any],
                        seed: int) -> dict[str, Any]:
    r"""The evaluation of :func:`papers.bottleneck_runs.a4_consequences` on a given model:
    training and test loss and accuracy (eval mode) and :func:`papers.bottleneck.robustness`
    on the test split with the chapter's ``settings`` (``fgsm``, ``pgd``, ``sigma``, ``mask``;
    PGD 20 steps; players the 12 features at baseline 0).

    Args:
        model: the two-class model to evaluate.
        tab: the table (:func:`ibn.data.load_tabular` on its 12 first features,
            :func:`papers.bottleneck.select_features`) with ``x_train``, ``y_train``, ``x_test``
            and ``y_test``.
        settings: the chapter's preset (:class:`papers.specs.ConsequencesSpec` or a mapping)
            with the attack and corruption levels ``fgsm``, ``pgd``, ``sigma`` and ``mask``.
        seed: the seed of PGD's random start, the Gaussian noise and the masks.

    Returns:
        A dict: ``train_loss``, ``train_acc``, ``test_loss``, ``test_acc`` and ``robustness``
        (the flat dict of :func:`papers.bottleneck.robustness`).
    """
    from ibn.maskers import TabularMasker
    from ibn.train import evaluate

    tr = evaluate(model, (tab.x_train, tab.y_train))
    te = evaluate(model, (tab.x_test, tab.y_test))
    rob = bn.robustness(model, tab.x_test, tab.y_test, TabularMasker(torch.zeros(N_FEATURES)),
                        eps=settings["fgsm"], pgd_eps=settings["pgd"], pgd_steps=20,
                        sigma=settings["sigma"], mask_fraction=settings["mask"], seed=seed)
    return {"train_loss": tr["loss"], "train_acc": tr["acc"], "test_loss": te["loss"],
            "test_acc": te["acc"], "robustness": rob}


class _PlantedClassifier(nn.Module):
    """Two-class logits (−z/2, z/2) with z = w·x + b + k·(u·x) + a·Σ_t ±exp(−‖x − x_t‖²/2h²)
    over memorised points x_t (sign + for class 1)."""

    def __init__(self, w: torch.Tensor, b: float, *, u: torch.Tensor | None = None,
                 k: float = 0.0, memo: tuple[torch.Tensor, torch.Tensor] | None = None,
                 h: float = 0.3, a: float = 0.0) -> None:
        super().__init__()
        d = len(w)
        self.lin = nn.Linear(d, 1)
        with torch.no_grad():
            self.lin.weight.copy_(torch.as_tensor(w, dtype=torch.float32)[None])
            self.lin.bias.fill_(float(b))
        self.register_buffer("u", torch.zeros(d) if u is None else torch.as_tensor(u).float())
        self.register_buffer("mx", torch.zeros(0, d) if memo is None else memo[0].float())
        self.register_buffer("my", torch.zeros(0) if memo is None else 2.0 * memo[1].float() - 1)
        self.k, self.h, self.a = float(k), float(h), float(a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.lin(x)[:, 0] + self.k * (x @ self.u)
        if self.a and len(self.mx):
            z = z + self.a * torch.exp(-torch.cdist(x, self.mx) ** 2 / (2 * self.h ** 2)) @ self.my
        return torch.stack([-z / 2, z / 2], 1)


def planted_consequence_models(tab: Any, seed: int, *, k: float = 50.0, a: float = 10.0,
                               h: float = 0.3) -> tuple[nn.Module, nn.Module]:
    r"""The A4 control's pair on a two-class table ``tab``.

    "low" is a ridge linear classifier fit to a bootstrap sample (``seed``) of the training
    split, with logits :math:`(-z/2, z/2)`, :math:`z = w \cdot x + b`; "high" is the same plus a
    term that memorises every training point (RBF bumps of width ``h``, weight ``a``: a lower
    training loss and a larger gap by construction) and a weight ``k`` along the training
    data's least-variance direction :math:`u` (little change on the data, large under
    perturbations: less robust by construction):
    :math:`z = w \cdot x + b + k\, (u \cdot x) + a \sum_t \pm \exp(-\lVert x - x_t \rVert^2 / 2h^2)`
    over the training points :math:`x_t` (sign + for class 1).

    Args:
        tab: the two-class table with ``x_train`` and ``y_train`` (e.g. the chapter's 12
            features of :func:`ibn.data.load_tabular`).
        seed: the seed of the bootstrap sample.
        k: the weight along the least-variance direction (default 50).
        a: the weight of the memorising bumps (default 10).
        h: the width of the bumps (default 0.3).

    Returns:
        ``(low, high)``: the two models, in eval mode.
    """
    X = tab.x_train.double()
    y = tab.y_train
    idx = torch.as_tensor(np.random.default_rng(seed).choice(len(y), len(y)))
    A = torch.cat([X[idx], torch.ones(len(idx), 1, dtype=torch.float64)], 1)
    t = 2.0 * y[idx].double() - 1
    sol = torch.linalg.solve(A.T @ A + torch.eye(A.shape[1], dtype=torch.float64), A.T @ t)
    w, b = 3 * sol[:-1], 3 * float(sol[-1])
    u = torch.linalg.eigh(torch.cov(X.T))[1][:, 0]
    low = _PlantedClassifier(w, b)
    high = _PlantedClassifier(w, b, u=u, k=k, memo=(tab.x_train, tab.y_train), h=h, a=a)
    return low.eval(), high.eval()


def consequence_controls(settings: Mapping[str, Any], seeds: Sequence[int] = (0, 1, 2)
                         ) -> pd.DataFrame:
    r""":func:`consequence_table` of :func:`planted_consequence_models` on the chapter's table
    (``settings["dataset"]``, the 12 first features, split seed 0) over ``seeds``, evaluated
    by :func:`consequence_metrics`.

    Args:
        settings: the chapter's preset (:class:`papers.specs.ConsequencesSpec` or a mapping)
            with ``dataset`` and the attack and corruption levels ``fgsm``, ``pgd``, ``sigma``
            and ``mask``.
        seeds: the seeds of the bootstrap samples and of the evaluation (default 0, 1, 2).

    Returns:
        The table of :func:`consequence_table` with the kinds ``"low"`` and ``"high"``, one row
        per kind and seed.
    """
    from ibn.data import load_tabular

    tab = bn.select_features(load_tabular(settings["dataset"], seed=0), list(range(N_FEATURES)))
    results = {}
    for s in seeds:
        low, high = planted_consequence_models(tab, s)
        for kind, model in (("low", low), ("high", high)):
            results[(kind, s)] = ({}, consequence_metrics(model, tab, settings, s))
    return consequence_table(results)


def consequence_records(per_seed: pd.DataFrame, control_table: pd.DataFrame,
                        settings: Mapping[str, Any], *, scale: str, chapter: str,
                        reference: pd.DataFrame | None = None,
                        steering: Mapping[str, float] | None = None) -> list[Verdict]:
    r"""The A4 records, one per :data:`CONSEQUENCE_CLAIMS` entry.

    The parts of a claim are its quantities (e.g. PGD at each :math:`\varepsilon`); a part shows
    the effect when the expected model is better by more than :data:`NOISE_SD` pooled seed sds
    in :func:`low_vs_high`. The paper's full order (:func:`direction_table`) is named in
    ``why``.

    Args:
        per_seed: the chapter's :func:`consequence_table`.
        control_table: the control's table, :func:`consequence_controls`.
        settings: the chapter's preset (:class:`papers.specs.ConsequencesSpec` or a mapping) with
            ``dataset``, ``model``, ``kinds``, ``lam``, ``seeds``, ``epochs``, ``fgsm`` and
            ``pgd``.
        scale: the scale of the chapter's run (``"smoke"``, ``"book"`` or ``"paper"``), for the
            record.
        chapter: the chapter's source, for the record.
        reference: the same table for the models trained with paper A's reference recipe
            (:func:`papers.bottleneck.fit_tabular`), a second setup whose quantities are parts of
            each claim beside the Adam models'.
        steering: ``{"adam": gap, "reference": gap}`` of :func:`steering_gap`; a setup whose gap
            is below :data:`MIN_STEER` did not steer the orders, and its quantities are named in
            ``why`` but not counted (a setup without a gap counts).

    Returns:
        The :class:`papers.verdicts.Verdict` records in the order of :data:`CONSEQUENCE_CLAIMS`.
    """
    from ibn.data import load_tabular
    from papers.verdicts import Control, Verdict, categorize

    table, ctl = low_vs_high(per_seed), low_vs_high(control_table)
    direction = direction_table(per_seed, settings["pgd"], settings["fgsm"], many_seeds=True)
    tab = bn.select_features(load_tabular(settings["dataset"], seed=0), list(range(N_FEATURES)))
    recipes = {"adam": per_seed} | ({"reference": reference} if reference is not None else {})
    gap = {recipe: float((steering or {}).get(recipe, np.nan)) for recipe in recipes}
    steered = {recipe: bool(np.isnan(g) or g >= MIN_STEER) for recipe, g in gap.items()}
    setups = []
    for recipe, runs in recipes.items():
        test_acc = runs.groupby("model", sort=False)["test acc"].mean()
        setups.append({"model": settings["model"], "dataset": settings["dataset"],
                       "n_players": N_FEATURES, "n_samples": int(len(tab.y_test)),
                       "n_train": int(len(bn.fitted_part(tab, seed=0, recipe=recipe))),
                       "target_test_acc": {k: round(float(v), 4) for k, v in test_acc.items()},
                       "kinds": list(settings["kinds"]), "lam": settings["lam"],
                       "seeds": list(settings["seeds"]), "epochs": settings["epochs"],
                       "optimizer": "adam" if recipe == "adam"
                       else bn.REFERENCE_TABULAR["optimizer"],
                       "recipe": recipe if recipe == "adam" else dict(bn.REFERENCE_TABULAR),
                       **({} if np.isnan(gap[recipe]) else
                          {"steering_gap": round(gap[recipe], 4)})})
    ref_table = low_vs_high(reference) if reference is not None else None
    scope = (f"{settings['model'].upper()} on 12 features of {settings['dataset']} "
             f"(paper A's Census and CIFAR-10 are not available offline), "
             f"{len(settings['seeds'])} seed{'s' if len(settings['seeds']) > 1 else ''}, "
             f"λ = {settings['lam']:g}")
    decide = "more seeds and paper A's data sets would decide it"
    ctl_kind = ("a ridge linear classifier ('low') against the same classifier plus a term "
                "memorising the training points and a large weight along the training data's "
                "least-variance direction ('high'), 3 bootstrap seeds, through the same "
                "evaluation, attacks, corruptions and rule")
    out = []
    for claim, figure, statement, quantities, expected in CONSEQUENCE_CLAIMS:
        ctl_parts = _parts(ctl, quantities)
        ctl_ok = bool(ctl_parts) and all(_part_holds(p, expected) for p in ctl_parts)
        control = Control(ctl_kind, "detected" if ctl_ok else "missed",
                          "; ".join(f"{p['quantity']}: low − high {p['low − high']:+.3f} "
                                    f"({p['in pooled sd']:+.1f} sd)" for p in ctl_parts)
                          or "no low/high comparison")
        parts = _parts(table, quantities)
        present = [_part_holds(p, expected) for p in parts]
        ref_parts = _parts(ref_table, quantities) if ref_table is not None else []
        ref_present = [_part_holds(p, expected) for p in ref_parts]
        counted = (present if steered["adam"] else []) + \
            (ref_present if steered.get("reference") else [])
        verdict = categorize(counted, control, powered=False)
        if parts and not steered["adam"]:
            core = (f"the presets did not steer the orders (high − low centre "
                    f"{gap['adam']:.2f} < {MIN_STEER:g}); ")
        else:
            core = ""
        if parts:
            core += (f"{sum(present)} of {len(parts)} quantities favour the {expected}-order "
                    f"model by more than {NOISE_SD:g} pooled sd (low − high: "
                    + ", ".join(f"{p['quantity']} {p['low − high']:+.3f} "
                                f"({p['in pooled sd']:+.1f} sd)" for p in parts) + ")")
        else:
            core += f"no low- and high-order models at this scale (kinds: {', '.join(settings['kinds'])})"
        orders = _parts(direction, quantities) if len(direction) else []
        if orders:
            core += (f"; the paper's order of the kinds run holds for "
                     f"{sum(bool(o['agrees']) for o in orders)} of {len(orders)}")
        if ref_parts and not steered["reference"]:
            core += ("; with the reference recipe the presets did not steer the orders (high − "
                     f"low centre {gap['reference']:.2f} < {MIN_STEER:g}), so its quantities are "
                     f"not counted ({sum(ref_present)} of {len(ref_parts)} in the paper's "
                     "direction)")
        elif ref_parts:
            core += (f"; with the reference recipe {sum(ref_present)} of {len(ref_parts)} "
                     "(low − high: " + ", ".join(f"{p['quantity']} {p['low − high']:+.3f} "
                                                 f"({p['in pooled sd']:+.1f} sd)"
                                                 for p in ref_parts) + ")")
        out.append(Verdict(claim=claim, paper="A", figure=figure, statement=statement,
                           verdict=verdict, why=_why(core, verdict, scope, decide), scale=scale,
                           setups=setups, control=control, chapter=chapter))
    return out


def structural_record(*, scale: str, chapter: str) -> Verdict:
    r"""The record of :data:`STRUCTURAL_CLAIM`, a consequence the book does not test: paper A's
    experiment for it (task, perturbation, metric) is not available here, so there is no rule
    and no control, and the verdict is inconclusive with what would decide it.

    Args:
        scale: the scale of the chapter's run (``"smoke"``, ``"book"`` or ``"paper"``), for the
            record.
        chapter: the chapter's source, for the record.

    Returns:
        The :class:`papers.verdicts.Verdict` record (verdict ``"inconclusive"``, control
        ``"none"``).
    """
    from papers.verdicts import Control, Verdict, categorize

    claim, figure, statement = STRUCTURAL_CLAIM
    untested = Control("none: no test of this claim was run", "none",
                       "without the paper's task and metric there is no rule to control")
    return Verdict(claim=claim, paper="A", figure=figure, statement=statement,
                   verdict=categorize([], untested, powered=False),
                   why=("not tested: paper A's experiment for structural modelling (its task, "
                        "perturbation and metric) is not available offline, only the abstract's "
                        "sentence, and the reference code has no such test; that protocol run "
                        "on order-steered image models would decide it"),
                   scale=scale, setups=[], control=untested, chapter=chapter)
