"""The result of an AND-OR decomposition (Conventions page, conventions-and-or)."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

from .. import transforms as tf

__all__ = ["AndOrResult", "RESULT_FORMAT"]

#: the version of :meth:`AndOrResult.to_dict`'s format
RESULT_FORMAT = 1
_TENSORS = ("and_effects", "or_effects", "gamma", "delta", "objective", "values", "zeta",
            "lower_bound")


@dataclass
class AndOrResult:
    r"""The sparsest AND-OR decomposition of one game or a batch of games.

    All per-coalition tensors have shape ``(..., 2**n)``, indexed by the coalition bitmask (bit i =
    player i), on the device and in the float64 dtype of the input.

    Attributes:
        and_effects: :math:`I^{\mathrm{AND}}_S`; ``and_effects[..., 0]`` is the bias
            :math:`b = v(x_\emptyset) - \delta_\emptyset`, which equals :math:`v(x_\emptyset)`:
            :math:`\delta_\emptyset = 0` except in the lab's own SGD mode,
            ``pin_delta_empty=False``.
        or_effects: :math:`I^{\mathrm{OR}}_S`; ``or_effects[..., 0]`` is 0.
        gamma: :math:`\gamma_T`, with :math:`u^{\mathrm{AND}} = \tfrac12 (v - \delta) + \gamma` and
            :math:`u^{\mathrm{OR}} = \tfrac12 (v - \delta) - \gamma`.
        delta: :math:`\delta_T`, with :math:`|\delta_T| \le \zeta` and
            :math:`\delta_\emptyset = 0` (see ``and_effects``).
        objective: :math:`\sum_{S \neq \emptyset} |I^{\mathrm{AND}}_S| + |I^{\mathrm{OR}}_S|`,
            shape ``(...)``.
        values: the input values :math:`v(x_T)`.
        noise_bound: the relative bound :math:`r` of
            :math:`\zeta = r \cdot |v(x_N) - v(x_\emptyset)|`, or None when an absolute
            :math:`\zeta` was given.
        zeta: the bound :math:`\zeta` used, shape ``(...)``.
        solver: ``"fast"``, ``"lp"`` or ``"sgd"``.
        n: the number of players.
        lower_bound: a certified lower bound on the LP optimum per sample (from the solver's duals,
            scaled into the dual feasible set and priced over all columns with the butterflies);
            NaN for ``"sgd"``. ``objective / lower_bound - 1`` bounds the optimality gap.
        info: solver details per sample (a list of dicts, in the order of the flattened batch).
    """

    and_effects: torch.Tensor
    or_effects: torch.Tensor
    gamma: torch.Tensor
    delta: torch.Tensor
    objective: torch.Tensor
    values: torch.Tensor
    noise_bound: float | None
    zeta: torch.Tensor
    solver: str
    n: int
    lower_bound: torch.Tensor | None = None
    info: list = field(default_factory=list, repr=False)

    @property
    def bias(self) -> torch.Tensor:
        r"""The bias :math:`b = I^{\mathrm{AND}}_\emptyset = v(x_\emptyset) - \delta_\emptyset`,
        shape ``(...)``."""
        return self.and_effects[..., 0]

    @property
    def gap(self) -> torch.Tensor:
        """The certified relative optimality gap ``objective / lower_bound - 1``
        (0 when both are 0)."""
        lb = self.lower_bound if self.lower_bound is not None else torch.full_like(
            self.objective, float("nan"))
        gap = self.objective / lb - 1.0
        return torch.where((self.objective == 0) & (lb <= 0), torch.zeros_like(gap), gap)

    @property
    def u_and(self) -> torch.Tensor:
        r"""The AND values
        :math:`u^{\mathrm{AND}}_T = \tfrac12 (v - \delta)_T + \gamma_T
        = \sum_{S \subseteq T} I^{\mathrm{AND}}_S`."""
        return 0.5 * (self.values - self.delta) + self.gamma

    @property
    def u_or(self) -> torch.Tensor:
        r"""The OR values
        :math:`u^{\mathrm{OR}}_T = \tfrac12 (v - \delta)_T - \gamma_T
        = \sum_{S \cap T \neq \emptyset} I^{\mathrm{OR}}_S`."""
        return 0.5 * (self.values - self.delta) - self.gamma

    def salient(self, tau: float) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Boolean masks of the salient interactions :math:`|I_S| > \tau`,
        :math:`S \neq \emptyset`.

        Args:
            tau: the threshold :math:`\tau \ge 0`.

        Returns:
            ``(and_mask, or_mask)``, each of the shape of the effects; entry 0 (the empty coalition)
            is False.

        Raises:
            ValueError: ``tau`` is negative or NaN.
        """
        if not (tau >= 0):
            raise ValueError(f"tau must be a non-negative threshold, got {tau}")
        and_mask = self.and_effects.abs() > tau
        or_mask = self.or_effects.abs() > tau
        and_mask[..., 0] = False
        or_mask[..., 0] = False
        return and_mask, or_mask

    def predict(self, masks) -> torch.Tensor:
        r"""The decomposition's prediction at the coalitions ``masks``:

        .. math::

           h(x_T) = b + \sum_{\emptyset \neq S \subseteq T} I^{\mathrm{AND}}_S
           + \sum_{S \cap T \neq \emptyset} I^{\mathrm{OR}}_S.

        Args:
            masks: bool ``(k, n)``, column i = player i.

        Returns:
            ``(..., k)``; by universal matching it equals ``values - delta`` at those coalitions.

        Raises:
            ValueError: ``masks`` is not a ``(k, n)`` matrix.
        """
        masks = torch.as_tensor(masks)
        if masks.ndim != 2 or masks.shape[-1] != self.n:
            raise ValueError(f"masks must be a (k, {self.n}) boolean matrix, got shape "
                             f"{tuple(masks.shape)}")
        idx = tf.masks_to_index(masks.bool()).to(self.and_effects.device)
        and_part = self.and_effects.clone()
        and_part[..., 0] = 0.0
        h = tf.zeta(and_part) + tf.or_zeta(self.or_effects) + self.and_effects[..., :1]
        return h[..., idx]

    def to_dict(self) -> dict:
        """The result as plain data, with a format ``version``.

        :meth:`from_dict` rebuilds it bit for bit. ``info`` is kept as given (plain numbers and
        strings from the solvers).

        Returns:
            A dict of the tensors (on the CPU) and the settings.
        """
        out = {"version": RESULT_FORMAT, "n": self.n, "solver": self.solver,
               "noise_bound": self.noise_bound, "info": list(self.info)}
        for name in _TENSORS:
            value = getattr(self, name)
            out[name] = None if value is None else value.detach().cpu().clone()
        return out

    @classmethod
    def from_dict(cls, data: dict) -> "AndOrResult":
        """Rebuild a result from the output of :meth:`to_dict`.

        Args:
            data: a dict written by :meth:`to_dict`.

        Returns:
            The result.

        Raises:
            ValueError: ``data`` is of another format version, or lacks a field.
        """
        version = data.get("version") if isinstance(data, dict) else None
        if version != RESULT_FORMAT:
            raise ValueError(f"AndOrResult data of format version {version!r}; this ibn reads "
                             f"version {RESULT_FORMAT}")
        missing = [k for k in (*_TENSORS, "n", "solver") if k not in data]
        if missing:
            raise ValueError(f"AndOrResult data lacks {', '.join(missing)}")
        return cls(**{k: data[k] for k in _TENSORS}, n=int(data["n"]), solver=data["solver"],
                   noise_bound=data.get("noise_bound"), info=list(data.get("info", [])))

    def __repr__(self) -> str:
        shape = tuple(self.objective.shape)
        return (f"AndOrResult(n={self.n}, batch={shape}, solver={self.solver!r}, "
                f"noise_bound={self.noise_bound}, objective={self.objective})")
