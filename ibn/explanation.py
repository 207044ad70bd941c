r"""One call from a model and its inputs to their AND-OR interactions, named, plotted and saved
(Conventions page, conventions-and-or).

:func:`explain` evaluates the :math:`2^n` masked inputs of every input
(:func:`ibn.games.all_values`, on the model's device), extracts the sparsest AND-OR effects of
all of them with one batched :func:`ibn.and_or.extract` call (Conventions page, eq-sparsest)
and, on request, their multi-order interactions (:func:`ibn.multiorder.exact`; Conventions
page, eq-multiorder); with ``client=`` (a Dask client or scheduler address) each sample is one
task on a cluster instead, with the same effects (:mod:`ibn.study`). It returns an
:class:`Explanation`, which knows its players' names (``"cell (r, c)"`` for image patches, the
word for text, ``"feature j"`` for tables):

* ``expl[i]``: one sample of a batch; ``len(expl)``: the number of samples;
* :meth:`Explanation.top`: the strongest interactions as a pandas DataFrame;
* :meth:`Explanation.plot`: a matplotlib figure of them and of the strength per order;
* :meth:`Explanation.save` / :func:`load`: a versioned file (format below);
* :meth:`Explanation.to_shapiq`: shapiq ``InteractionValues`` of the AND and OR parts.

(The module is ``ibn.explanation`` rather than ``ibn.explain``: a submodule named like the
function would replace ``ibn.explain`` by the module once it is imported.)

File format (version :data:`EXPLANATION_FORMAT` = 1): ``torch.save`` of a plain dict, readable
with ``torch.load(path, weights_only=True)`` (no pickled code)::

    {"format": "ibn.explanation",          # what the file is
     "version": 1,                         # EXPLANATION_FORMAT; another version is refused
     "tensors": {name: tensor, ...},       # CPU tensors, batch first (B = number of samples):
         # and_effects, or_effects, gamma, delta, values (B, 2^n) float64, bit i = player i;
         # objective, zeta, lower_bound (B,) float64; targets (B,) int64 (-1: no class);
         # multiorder (B, n-1, n, n) float64, only when computed
     "meta": "<JSON text>"}                # {"n", "solver", "noise_bound", "info" (one dict per
         # sample, the solver's), "players" (B lists of n names), "single" (one input given),
         # "result_format" (ibn.and_or.result.RESULT_FORMAT), "ibn_version"}

Tensors are stored as they are (bit for bit); the JSON floats are written with Python's
shortest round-trip repr, so :func:`load` rebuilds an equal Explanation bit for bit.
"""

from __future__ import annotations

import json
import numbers
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

from . import games
from ._checks import check_flag, check_number
from .and_or import extract as _extract
from .and_or.result import RESULT_FORMAT, AndOrResult
from ._batch import as_inputs, given_targets, maskers_for, targets_for
from .maskers import player_names

__all__ = ["explain", "load", "Explanation", "EXPLANATION_FORMAT"]

#: the version of the file format of :meth:`Explanation.save`
EXPLANATION_FORMAT = 1
_FORMAT_NAME = "ibn.explanation"
_RESULT_TENSORS = ("and_effects", "or_effects", "gamma", "delta", "objective", "values", "zeta",
                   "lower_bound")
_AND_COLOR, _OR_COLOR = "tab:red", "tab:blue"


def _members(S: int, n: int) -> list[int]:
    return [i for i in range(n) if S >> i & 1]


# ---------------------------------------------------------------- the result


@dataclass(eq=False)
class Explanation:
    r"""The AND-OR interactions of one input or a batch, with their players' names
    (Conventions page, conventions-and-or).

    ``expl[i]`` is sample :math:`i` as a one-sample Explanation, ``expl[a:b]`` a smaller batch
    and ``len(expl)`` the number of samples :math:`B`.

    Attributes:
        result: the :class:`~ibn.and_or.AndOrResult` of the batch, batch first: tensors
            ``(B, 2**n)`` (bit :math:`i` of a coalition = player :math:`i`; Conventions page,
            eq-mask), even for one sample; ``result.values`` are the values :math:`v(x_T)`
            (None when they were not kept).
        players: per sample, the names of its :math:`n` players (player :math:`i` first).
        targets: ``(B,)`` int64, the class whose log-odds is the reward (Conventions page,
            eq-reward; −1 when the reward has no class).
        multiorder: ``(B, n - 1, n, n)`` float64 multi-order interactions
            :math:`I^{(m)}(i, j)`, indexed ``[b, m, i, j]`` (Conventions page, eq-multiorder),
            or None when not computed.
        single: True when :func:`explain` was given one input (or for ``expl[i]``).
    """

    result: AndOrResult
    players: list[list[str]]
    targets: torch.Tensor
    multiorder: torch.Tensor | None = None
    single: bool = False

    # ------------------------------------------------------------ access

    @property
    def n(self) -> int:
        """The number of players."""
        return int(self.result.n)

    def __len__(self) -> int:
        return int(self.result.and_effects.shape[0])

    def _one(self, value: torch.Tensor | None):
        return value[0] if value is not None and self.single else value

    @property
    def values(self) -> torch.Tensor:
        r""":math:`v(x_T)`: :math:`(2^n,)` for one sample, :math:`(B, 2^n)` for a batch."""
        return self._one(self.result.values)

    @property
    def and_effects(self) -> torch.Tensor:
        r""":math:`I^{\mathrm{AND}}_S`, entry 0 the bias :math:`b = v(x_\emptyset)` (Conventions
        page, eq-bias); :math:`(2^n,)` or :math:`(B, 2^n)`."""
        return self._one(self.result.and_effects)

    @property
    def or_effects(self) -> torch.Tensor:
        r""":math:`I^{\mathrm{OR}}_S`, entry 0 is 0; :math:`(2^n,)` or :math:`(B, 2^n)`."""
        return self._one(self.result.or_effects)

    def __getitem__(self, index: int | slice) -> "Explanation":
        """``expl[i]``: sample i as a one-sample Explanation; ``expl[a:b]``: a smaller batch."""
        b = len(self)
        if isinstance(index, slice):
            rows = list(range(b))[index]
        elif isinstance(index, numbers.Integral) and not isinstance(index, bool):
            if not -b <= int(index) < b:
                raise IndexError(f"sample index {index} out of range for {b} sample(s)")
            rows = [int(index) % b]
        else:
            raise TypeError(f"index must be an integer or a slice, got {type(index).__name__}")
        idx = torch.tensor(rows, dtype=torch.long)
        r = self.result
        tensors = {name: None if getattr(r, name) is None else getattr(r, name)[idx.to(
            getattr(r, name).device)] for name in _RESULT_TENSORS}
        sub = AndOrResult(**tensors, noise_bound=r.noise_bound, solver=r.solver, n=r.n,
                          info=[r.info[i] for i in rows] if len(r.info) == b else [])
        mo = None if self.multiorder is None else self.multiorder[idx.to(self.multiorder.device)]
        return Explanation(sub, [self.players[i] for i in rows], self.targets[idx], mo,
                           single=not isinstance(index, slice))

    def _need_one(self, what: str) -> None:
        if len(self) != 1:
            raise ValueError(f"{what} shows one sample and this explanation holds {len(self)}; "
                             "select one with expl[i]")

    # ------------------------------------------------------------ tables and figures

    def top(self, k: int = 10):
        r"""The ``k`` strongest AND and OR interactions (:math:`S \neq \emptyset`, non-zero
        effects) of each sample, by :math:`\lvert I_S\rvert`. Ties keep AND before OR and
        smaller bitmasks first.

        Args:
            k: the number of interactions per sample (AND and OR together), at least 1
                (default 10).

        Returns:
            a pandas DataFrame with the columns ``kind`` ("AND"/"OR"), ``players`` (their
            names, joined by ", "), ``order`` (:math:`\lvert S\rvert`), ``effect``
            (:math:`I_S`) and ``coalition`` (the bitmask :math:`S`); for a batch also
            ``sample``, first.

        Raises:
            ValueError: ``k`` is not a positive integer.
        """
        import pandas as pd

        check_number("k", k, low=1, integer=True)
        a_all = self.result.and_effects.detach().cpu()
        o_all = self.result.or_effects.detach().cpu()
        best: list[tuple] = []
        for s in range(len(self)):
            mine = [(s, kind, S, float(eff[S])) for kind, eff in (("AND", a_all[s]), ("OR", o_all[s]))
                    for S in (torch.nonzero(eff[1:]).flatten() + 1).tolist()]
            mine.sort(key=lambda r: (-abs(r[3]), r[1] != "AND", r[2]))
            best.extend(mine[:k])
        out = pd.DataFrame({
            "sample": [r[0] for r in best],
            "kind": [r[1] for r in best],
            "players": [", ".join(self.players[r[0]][i] for i in _members(r[2], self.n))
                        for r in best],
            "order": [bin(r[2]).count("1") for r in best],
            "effect": [r[3] for r in best],
            "coalition": [r[2] for r in best],
        })
        return out.drop(columns="sample") if self.single else out

    def order_strength(self):
        r"""The strength of each order :math:`m = 1, \dots, n` of one sample:
        :math:`\sum_{\lvert S\rvert=m} \lvert I^{\mathrm{AND}}_S\rvert` and
        :math:`\sum_{\lvert S\rvert=m} \lvert I^{\mathrm{OR}}_S\rvert`.

        Returns:
            a pandas DataFrame with the columns ``order``, ``AND``, ``OR`` (one row per
            order).

        Raises:
            ValueError: the explanation holds several samples (select one with ``expl[i]``).
        """
        import pandas as pd

        self._need_one("order_strength")
        n = self.n
        sizes = torch.tensor([bin(S).count("1") for S in range(1 << n)])
        cols = {}
        for kind, eff in (("AND", self.result.and_effects[0]), ("OR", self.result.or_effects[0])):
            per = torch.zeros(n + 1, dtype=torch.float64).index_add_(
                0, sizes, eff.detach().cpu().abs())
            cols[kind] = per[1:].tolist()
        return pd.DataFrame({"order": list(range(1, n + 1)), **cols})

    def plot(self, ax=None, k: int = 10, max_names: int = 3):
        r"""A figure of one sample: the ``k`` strongest interactions as horizontal bars labelled
        with their players' names (AND red, OR blue; the strongest on top) and, beside them, the
        strength per order (:math:`\sum_{\lvert S\rvert=m} \lvert I_S\rvert`, AND and OR side
        by side).

        Args:
            ax: None (a new figure with both panels), a pair of matplotlib axes (the two
                panels), or one axes (the bars only).
            k: the number of interactions shown (default 10), as in :meth:`top`.
            max_names: the most players' names a bar's label lists, then "+j" for the
                :math:`j` others (default 3).

        Returns:
            the matplotlib Figure.

        Raises:
            ValueError: the explanation holds several samples, or ``k`` or ``max_names`` is
                not a positive integer.
            TypeError: ``ax`` is none of the three.
        """
        import matplotlib.pyplot as plt
        from matplotlib.patches import Patch

        self._need_one("plot")
        check_number("max_names", max_names, low=1, integer=True)
        table = self.top(k)
        if ax is None:
            fig, (bars_ax, order_ax) = plt.subplots(
                1, 2, figsize=(11, max(3.0, 0.38 * len(table) + 1.4)),
                gridspec_kw={"width_ratios": [3, 2]}, layout="constrained")
        elif isinstance(ax, (list, tuple)) and len(ax) == 2:
            bars_ax, order_ax = ax
            fig = bars_ax.figure
        elif hasattr(ax, "barh"):
            bars_ax, order_ax, fig = ax, None, ax.figure
        else:
            raise TypeError(f"ax must be None, a matplotlib Axes or a pair of them, got {ax!r}")

        def label(row) -> str:
            names = [self.players[0][i] for i in _members(int(row.coalition), self.n)]
            more = f" +{len(names) - max_names}" if len(names) > max_names else ""
            joined = (" & " if row.kind == "AND" else " | ").join(names[:max_names])
            return f"{row.kind} {joined}{more}"

        ys = list(range(len(table)))[::-1]
        colors = [_AND_COLOR if kind == "AND" else _OR_COLOR for kind in table["kind"]]
        bars_ax.barh(ys, table["effect"].tolist(), color=colors)
        bars_ax.set_yticks(ys, [label(r) for r in table.itertuples()])
        bars_ax.axvline(0.0, color="black", linewidth=0.8)
        bars_ax.set_xlabel("effect I_S")
        target = int(self.targets[0])
        bars_ax.set_title(f"strongest interactions (bias {float(self.result.bias[0]):.3g}"
                          + (f", class {target})" if target >= 0 else ")"))
        bars_ax.legend(handles=[Patch(color=_AND_COLOR, label="AND"),
                                Patch(color=_OR_COLOR, label="OR")], loc="lower right")
        if order_ax is not None:
            per = self.order_strength()
            m = per["order"].to_numpy()
            order_ax.bar(m - 0.2, per["AND"], width=0.4, color=_AND_COLOR, label="AND")
            order_ax.bar(m + 0.2, per["OR"], width=0.4, color=_OR_COLOR, label="OR")
            order_ax.set_xlabel("order m = |S|")
            order_ax.set_ylabel("Σ |I_S| over |S| = m")
            order_ax.set_title("strength per order")
            order_ax.set_xticks(m)
            order_ax.legend()
        return fig

    # ------------------------------------------------------------ shapiq

    def to_shapiq(self) -> dict[str, Any]:
        r"""The AND and OR parts of one sample as shapiq ``InteractionValues`` (shapiq ≥ 1.4).

        * ``"and"``: index ``"Moebius"``, value at :math:`S` (a sorted tuple of players) =
          :math:`I^{\mathrm{AND}}_S`, the Möbius transform of
          :math:`u^{\mathrm{AND}}_T = \tfrac12 (v_T - \delta_T) + \gamma_T` (Conventions page,
          eq-harsanyi and eq-and-or-split); entry ``()`` and ``baseline_value`` = the bias
          :math:`u^{\mathrm{AND}}_\emptyset = v(x_\emptyset)`. It equals
          ``shapiq.ExactComputer(u_and_game, n)("Moebius")`` coalition by coalition.
        * ``"or"``: index ``"Co-Moebius"`` (the co-Möbius transform
          :math:`m^*_S = \sum_{R \subseteq S} (-1)^{\lvert R\rvert} u(N \setminus R)`, shapiq's
          "External Interaction Index"), of
          :math:`u^{\mathrm{OR}}_T = \tfrac12 (v_T - \delta_T) - \gamma_T`. By Conventions page
          eq-or, :math:`I^{\mathrm{OR}}_S = (-1)^{\lvert S\rvert+1} m^*_S` for
          :math:`S \neq \emptyset`: the value at :math:`S` is the OR effect for odd
          :math:`\lvert S\rvert` and its negative for even :math:`\lvert S\rvert`. Entry ``()``
          and ``baseline_value`` = :math:`u^{\mathrm{OR}}_\emptyset = 0`. It equals
          ``shapiq.ExactComputer(u_or_game, n)("Co-Moebius")``.

        Returns:
            ``{"and": InteractionValues, "or": InteractionValues}``, both of ``max_order``
            :math:`n`.

        Raises:
            ValueError: the explanation holds several samples (select one with ``expl[i]``).
            ImportError: shapiq is not installed.
        """
        self._need_one("to_shapiq")
        try:
            from shapiq import InteractionValues
        except ImportError as err:
            raise ImportError(f"to_shapiq needs shapiq (pip install shapiq): {err}") from None
        import numpy as np

        n = self.n
        order = sorted(range(1 << n), key=lambda S: (bin(S).count("1"), _members(S, n)))
        lookup = {tuple(_members(S, n)): j for j, S in enumerate(order)}
        sign = np.array([(-1.0) ** (bin(S).count("1") + 1) for S in order])
        a = self.result.and_effects[0].detach().cpu().numpy()[order]
        o = self.result.or_effects[0].detach().cpu().numpy()[order] * sign + 0.0  # no -0.0
        u_or_empty = float(self.result.u_or[0, 0])
        o[0] = u_or_empty
        common = {"max_order": n, "min_order": 0, "n_players": n, "interaction_lookup": lookup,
                  "estimated": False}
        return {"and": InteractionValues(a, index="Moebius", baseline_value=float(a[0]), **common),
                "or": InteractionValues(o, index="Co-Moebius", baseline_value=u_or_empty,
                                        **common)}

    # ------------------------------------------------------------ files

    def save(self, path: str | Path) -> Path:
        """Write the explanation to ``path`` in the versioned format of this module's docstring
        (``torch.save`` of plain tensors and a JSON text; ``torch.load(weights_only=True)`` reads
        it); :func:`load` rebuilds it bit for bit.

        Args:
            path: the file to write (overwritten when it exists; conventionally ``.pt``).

        Returns:
            the path, as a :class:`~pathlib.Path`.

        Raises:
            TypeError: the solver's ``info`` holds something that is not JSON-able.
        """
        r = self.result
        tensors = {name: getattr(r, name).detach().cpu().clone() for name in _RESULT_TENSORS
                   if getattr(r, name) is not None}
        tensors["targets"] = self.targets.detach().cpu().clone()
        if self.multiorder is not None:
            tensors["multiorder"] = self.multiorder.detach().cpu().clone()
        from . import __version__

        meta = {"n": r.n, "solver": r.solver, "noise_bound": r.noise_bound,
                "info": [dict(i) for i in r.info], "players": [list(p) for p in self.players],
                "single": bool(self.single), "result_format": RESULT_FORMAT,
                "ibn_version": __version__}
        text = json.dumps(meta, default=_plain, allow_nan=True)
        path = Path(path)
        torch.save({"format": _FORMAT_NAME, "version": EXPLANATION_FORMAT, "tensors": tensors,
                    "meta": text}, path)
        return path

    def __repr__(self) -> str:
        b = len(self)
        what = "1 sample" if self.single else f"{b} samples"
        return (f"Explanation({what}, n={self.n}, solver={self.result.solver!r}, "
                f"targets={self.targets.tolist()}, multiorder={self.multiorder is not None})")


def _plain(x: Any) -> Any:
    """JSON for numpy scalars and other numbers the solvers may put in ``info``."""
    if hasattr(x, "item"):
        return x.item()
    raise TypeError(f"cannot store {type(x).__name__} in an explanation file")


def load(path: str | Path) -> Explanation:
    """Read an :class:`Explanation` written by :meth:`Explanation.save` (``torch.load`` with
    ``weights_only=True``, onto the CPU).

    Args:
        path: the file written by :meth:`Explanation.save`.

    Returns:
        the :class:`Explanation`, equal bit for bit to the one saved.

    Raises:
        ValueError: one line, when the file is not an ibn explanation file or has another format
            version than :data:`EXPLANATION_FORMAT` (naming the version found and the one read).
        FileNotFoundError: no such file.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no explanation file {str(path)!r}")
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # not a torch file, a damaged zip, a pickle of other objects
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise ValueError(f"{path}: not an ibn explanation file ({type(exc).__name__}: "
                         f"{first})") from None
    if not isinstance(data, dict) or data.get("format") != _FORMAT_NAME:
        raise ValueError(f"{path}: not an ibn explanation file (no format {_FORMAT_NAME!r})")
    version = data.get("version")
    if version != EXPLANATION_FORMAT:
        raise ValueError(f"{path}: explanation file format version {version!r}; this ibn "
                         f"reads version {EXPLANATION_FORMAT}")
    tensors, meta = data["tensors"], json.loads(data["meta"])
    result = AndOrResult.from_dict({
        "version": meta["result_format"], "n": meta["n"], "solver": meta["solver"],
        "noise_bound": meta["noise_bound"], "info": meta["info"],
        **{name: tensors.get(name) for name in _RESULT_TENSORS}})
    return Explanation(result, [list(p) for p in meta["players"]], tensors["targets"],
                       tensors.get("multiorder"), single=bool(meta["single"]))


# ---------------------------------------------------------------- explain


def _is_factory(model: Any) -> bool:
    """Whether ``model`` is an :class:`ibn.study.ModelFactory` (a model built where it runs);
    there is none before :mod:`ibn.study` is imported, which ``explain`` then need not do."""
    study = sys.modules.get(f"{__package__}.study")
    return study is not None and isinstance(model, study.ModelFactory)


def _check_model(model: Any) -> None:
    if not callable(model) and not _is_factory(model):
        raise TypeError(f"model must be a torch.nn.Module, a callable or an ibn.study.ModelFactory, "
                        f"got {type(model).__name__}")


def _prepare(inputs: Any, masker: Any, *, multiorder: bool, names: Sequence[str] | None,
             progress: bool, batch_size: int | None,
             return_values: bool | None) -> tuple[list[Any], bool, list[Any], int]:
    """The checks :func:`explain` and :func:`ibn.study.study` share: the inputs as a list,
    whether one input was given, one masker per input, and the number of players."""
    check_flag("multiorder", multiorder)
    check_flag("progress", progress)
    if return_values is not None:
        check_flag("return_values", return_values)
    check_number("batch_size", batch_size, low=1, integer=True, allow_none=True)
    first = masker[0] if isinstance(masker, (list, tuple)) and masker else masker
    xs, single = as_inputs(inputs, first)
    maskers = maskers_for(masker, len(xs))
    n = int(maskers[0].n_players)
    check_number("masker.n_players", n, low=1, integer=True)  # all_values checks max_players
    if multiorder and n < 2:
        raise ValueError(f"multiorder=True needs at least 2 players, the masker has {n}")
    if names is not None:
        if isinstance(names, str) or len(names) != n or not all(isinstance(s, str) for s in names):
            raise ValueError(f"names must be {n} strings (one per player), got {names!r}")
    return xs, single, maskers, n


def explain(model: Any, inputs: Any, masker: Any, targets: Any = None, *,
            multiorder: bool = False, names: Sequence[str] | None = None,
            reward: Callable = games.log_odds, batch_size: int | None = 256, device: Any = None,
            max_players: int = 20, progress: bool = False, client: Any = None,
            return_values: bool | None = None, retries: int = 2,
            **options: Any) -> Explanation:
    r"""The sparsest AND-OR interactions of a model on one input or a batch (Conventions page,
    eq-sparsest), with their players' names.

    Args:
        model: a torch model (in eval mode; the maskers switch it) or what the masker runs; or
            an :class:`ibn.study.ModelFactory`, which builds it (once per process).
        inputs: one input or a batch: an image (C, H, W) or images (B, C, H, W) for a
            Patch/FeatureMapMasker, a row (d,) or rows (B, d) for a TabularMasker, a text (or
            None) for a TokenMasker, or a list of inputs (a batch, for any masker). For other
            maskers a tensor is a batch along its first dimension.
        masker: an ibn masker (``n_players``, ``masker(model, x, masks)``), or a list of them,
            one per input, all with the same n_players (a TokenMasker is built for one text).
        targets: the class whose log-odds is the reward (Conventions page, eq-reward): an int
            for every input, or one per input; None = the class the model predicts on each
            unmasked input (argmax of its outputs).
        multiorder: also compute the multi-order interactions :math:`I^{(m)}(i, j)` of the
            values (:func:`ibn.multiorder.exact`; Conventions page, eq-multiorder); needs
            :math:`n \geq 2`.
        names: the players' names (n strings), instead of those the masker gives.
        reward: ``reward(outputs, target) -> (k,)`` values, as in
            :func:`ibn.games.all_values` (default :func:`ibn.games.log_odds`).
        batch_size: masked inputs per forward pass (default 256; None = all at once).
        device: where the model runs (default: the device of its parameters, else CPU).
        max_players: the largest number of players allowed (default 20: :math:`2^{20}`
            forward passes per input), as in :func:`ibn.games.all_values`.
        progress: a progress bar over the inputs and over the extraction.
        client: None (default: everything in this process), or a ``dask.distributed.Client``
            or a scheduler address (a Client is then opened and closed): each sample's values
            and AND-OR extraction run as one Dask task (:mod:`ibn.study`); the model is sent to
            each worker once (a ModelFactory is built there once). The effects are the same, bit
            for bit, as without a client, given the same values (see :mod:`ibn.study`).
        return_values: keep the values :math:`v(x_T)` in ``result.values`` (None, the default: yes
            without a client, no with one, where they are then not sent back; False:
            ``result.values`` is None).
        retries: with a client, how often a failed task is run again (default 2).
        **options: for :func:`ibn.and_or.extract` (``noise_bound``, ``noise_scale``, ``solver``,
            ``zeta``, ``tol``, ``n_jobs``, ...). With ``noise_scale="mean"`` the bound depends
            on the batch (refused with a client); otherwise a sample's effects are the same
            alone or in any batch.

    Returns:
        an :class:`Explanation` (one sample when one input was given).

    Raises:
        ValueError, TypeError: a bad argument, named in a one-line message.
    """
    _check_model(model)
    xs, single, maskers, n = _prepare(inputs, masker, multiorder=multiorder, names=names,
                                      progress=progress, batch_size=batch_size,
                                      return_values=return_values)
    players = [list(names) if names is not None else player_names(m) for m in maskers]
    if client is not None:
        from .study import explain_on_cluster

        part = explain_on_cluster(
            client, model, xs, maskers, given_targets(targets, len(xs)), multiorder=multiorder,
            reward=reward, batch_size=batch_size, device=device, max_players=max_players,
            progress=progress, return_values=bool(return_values), retries=retries,
            options=options)
        return Explanation(part.result, players, part.targets, part.multiorder, single=single)
    if _is_factory(model):
        model = model.build()
    if progress:
        options.setdefault("progress", True)
    t = targets_for(model, xs, maskers, targets, device)
    from ._progress import tqdm

    values = torch.stack([
        games.all_values(model, x, m, target=None if int(ti) < 0 else int(ti), reward=reward,
                         batch_size=batch_size, device=device, max_players=max_players,
                         progress=False).values
        for x, m, ti in tqdm(list(zip(xs, maskers, t)), desc="values", disable=not progress,
                             leave=False)])
    result = _extract(values, **options)
    mo = None
    if multiorder:
        from .multiorder import exact

        mo = exact(values)
    if return_values is False:
        result = replace(result, values=None)
    return Explanation(result, players, t, mo, single=single)
