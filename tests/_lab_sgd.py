"""Test oracle: the lab's ``_train_p_q``, transcribed, with its dense matrices and autograd.

Source: github.com/sjtu-xai-lab/generalizable-interaction, commit
e954ff2e7cb805ec9dcf1297f1bb59fdffb1dd81 ("Add files via upload", 2024-03-10):

* ``harsanyi/and_or_harsanyi_utils.py`` lines 11-32 (``get_reward2Iand_mat``), 35-60
  (``get_reward2Ior_mat``), 109-114 (``generate_ckpt_id_list``) and 117-164 (``_train_p_q``);
* ``harsanyi/interaction_utils.py`` lines 9-13 (``generate_all_masks``), 127-137
  (``generate_subset_masks``) and 140-150 (``generate_reverse_subset_masks``);
* ``harsanyi/and_or_harsanyi.py`` lines 189-195 (``_init_q_bound``: qbound = qthres·|v_N − v_∅|)
  and 265-271 (``_calculate_interaction``: the published I^AND, I^OR from the final p, q).

The same ``_train_p_q`` (with a ``loss_type`` argument whose "l1" branch is this code) is in
sjtu-xai-lab/interaction-concept ``src/harsanyi/and_or_harsanyi_utils.py``.

What was changed, and only this:

* bit order: the lab's coalition index is ``np.binary_repr(index, width=n)`` read left to right,
  so player k is bit n−1−k of its index; this project's player k is bit k. :func:`lab_train_p_q`
  takes and returns vectors in this project's order and permutes them (bit reversal) around the
  lab's code, which runs unchanged in the lab's order;
* dtype: the lab's matrices are ``.float()`` (float32); here they take the dtype of the rewards
  (float64 in the tests) so that the comparison with ibn measures the algorithm, not float32;
* tqdm, the checkpoint list and the progress dict are dropped (they do not affect the result).
"""

from __future__ import annotations

from typing import Dict, List, Tuple, Union

import numpy as np
import torch
from torch import optim

__all__ = ["lab_train_p_q", "lab_objective", "bit_reverse_perm"]


# ---------------------------------------------------- harsanyi/interaction_utils.py (e954ff2)
def generate_all_masks(length: int) -> list:
    masks = list(range(2**length))
    masks = [np.binary_repr(mask, width=length) for mask in masks]
    masks = [[bool(int(item)) for item in mask] for mask in masks]
    return masks


def generate_subset_masks(set_mask, all_masks):
    set_mask_ = set_mask.expand_as(all_masks)
    is_subset = torch.logical_or(set_mask_, torch.logical_not(all_masks))
    is_subset = torch.all(is_subset, dim=1)
    return all_masks[is_subset], is_subset


def generate_reverse_subset_masks(set_mask, all_masks):
    set_mask_ = set_mask.expand_as(all_masks)
    is_rev_subset = torch.logical_or(set_mask_, all_masks)
    is_rev_subset = torch.all(is_rev_subset, dim=1)
    return all_masks[is_rev_subset], is_rev_subset


# ------------------------------------------------ harsanyi/and_or_harsanyi_utils.py (e954ff2)
def get_reward2Iand_mat(dim, dtype=torch.float32):
    all_masks = torch.BoolTensor(generate_all_masks(dim))
    n_masks, _ = all_masks.shape
    mat = []
    for i in range(n_masks):
        mask_S = all_masks[i]
        row = torch.zeros(n_masks)
        # Note: I(S) = \sum_{L\subseteq S} (-1)^{s-l} v(L)
        mask_Ls, L_indices = generate_subset_masks(mask_S, all_masks)
        L_indices = (L_indices == True).nonzero(as_tuple=False)  # noqa: E712 (lab text)
        assert mask_Ls.shape[0] == L_indices.shape[0]
        row[L_indices] = torch.pow(-1., mask_S.sum() - mask_Ls.sum(dim=1)).unsqueeze(1)
        mat.append(row.clone())
    mat = torch.stack(mat).to(dtype)  # lab: .float()
    return mat


def get_reward2Ior_mat(dim, dtype=torch.float32):
    all_masks = torch.BoolTensor(generate_all_masks(dim))
    n_masks, _ = all_masks.shape
    mat = []
    for i in range(n_masks):
        mask_S = all_masks[i]
        row = torch.zeros(n_masks)
        # Note: I(S) = -\sum_{L\subseteq S} (-1)^{s+(n-l)-n} v(N\L) if S is not empty
        if mask_S.sum() == 0:
            row[i] = 1.
        else:
            mask_NLs, NL_indices = generate_reverse_subset_masks(mask_S, all_masks)
            NL_indices = (NL_indices == True).nonzero(as_tuple=False)  # noqa: E712 (lab text)
            assert mask_NLs.shape[0] == NL_indices.shape[0]
            row[NL_indices] = - torch.pow(-1., mask_S.sum() + mask_NLs.sum(dim=1) + dim).unsqueeze(1)
        mat.append(row.clone())
    mat = torch.stack(mat).to(dtype)  # lab: .float()
    return mat


def _train_p_q(
        rewards: torch.Tensor,
        lr: float,
        niter: int,
        qbound: Union[float, torch.Tensor],
        reward2Iand: torch.Tensor = None,
        reward2Ior: torch.Tensor = None,
        momentum: float = 0.9,
        pin_q_empty: bool = False,
) -> Tuple[torch.Tensor, torch.Tensor, Dict, Dict]:
    """Lines 117-164 of the lab file. Two additions, both off by default: ``momentum`` (the lab
    hard-codes 0.9 on line 137) and ``pin_q_empty`` (holds q_∅ at 0 after each clip: the lab
    procedure under this project's convention δ_∅ = 0, which ibn's sgd follows exactly)."""
    device = rewards.device
    n_dim = int(np.log2(rewards.numel()))
    if reward2Iand is None:
        reward2Iand = get_reward2Iand_mat(n_dim, rewards.dtype).to(device)
    if reward2Ior is None:
        reward2Ior = get_reward2Ior_mat(n_dim, rewards.dtype).to(device)

    log_lr = np.log10(lr)
    eta_list = np.logspace(log_lr, log_lr - 1, niter)

    p = torch.zeros_like(rewards).requires_grad_(True)
    q = torch.zeros_like(rewards).requires_grad_(True)
    optimizer = optim.SGD([p, q], lr=0.0, momentum=momentum)

    losses: Dict[str, List[float]] = {"loss": []}
    progresses: Dict[str, list] = {}

    for it in range(niter):
        q.data = torch.max(torch.min(q.data, qbound), -qbound)
        if pin_q_empty:  # addition (index 0 is ∅ in the lab's order too)
            q.data[0] = 0.0
        Iand_p = torch.matmul(reward2Iand, 0.5 * (rewards + q) + p).squeeze()
        Ior_p = torch.matmul(reward2Ior, 0.5 * (rewards + q) - p).squeeze()

        # Equation (4) in paper
        loss = torch.sum(torch.abs(Iand_p)) + torch.sum(torch.abs(Ior_p))
        losses["loss"].append(loss.item())

        if it + 1 < niter:
            optimizer.zero_grad()
            optimizer.param_groups[0]["lr"] = eta_list[it]
            loss.backward()
            optimizer.step()

    return p.detach(), q.detach(), losses, progresses


# ------------------------------------------------------------------ wrapper (our bit order)
def bit_reverse_perm(n: int) -> torch.Tensor:
    """perm[i] = index i with its n bits reversed (an involution): x_lab = x_ours[perm]."""
    idx = torch.arange(1 << n)
    out = torch.zeros_like(idx)
    for k in range(n):
        out |= ((idx >> k) & 1) << (n - 1 - k)
    return out


_MATS: dict = {}


def _mats(n: int, dtype):
    key = (n, dtype)
    if key not in _MATS:
        _MATS[key] = (get_reward2Iand_mat(n, dtype), get_reward2Ior_mat(n, dtype))
    return _MATS[key]


def lab_train_p_q(values: torch.Tensor, qbound: float, *, lr: float, niter: int,
                  momentum: float = 0.9, pin_q_empty: bool = False) -> dict:
    """Run the lab's ``_train_p_q`` on one game ``values`` (2^n,) in this project's bit order.

    ``qbound``: the lab's bound, qthres·|v_N − v_∅| (an absolute number); ``momentum`` and
    ``pin_q_empty``: see :func:`_train_p_q` (defaults: the lab's code). Returns a dict, all
    vectors in this project's bit order:

    * ``p``, ``q``: the lab's parameters after training (q clipped, as used in the last
      iteration);
    * ``and_effects``, ``or_effects``: the lab's published I^AND, I^OR
      (``_calculate_interaction``), with the lab's entries at ∅: I^AND_∅ = u^AND_∅ and
      I^OR_∅ = u^OR_∅ (row ∅ of the lab's OR matrix is the identity);
    * ``loss``: the lab's loss per iteration (Σ_S |I^AND_S| + Σ_S |I^OR_S|, ∅ included).
    """
    values = torch.as_tensor(values)
    n = values.shape[-1].bit_length() - 1
    perm = bit_reverse_perm(n)
    rewards = values[perm].clone()
    m_and, m_or = _mats(n, rewards.dtype)
    qb = torch.as_tensor(qbound, dtype=rewards.dtype)
    p, q, losses, _ = _train_p_q(rewards, lr=lr, niter=niter, qbound=qb, reward2Iand=m_and,
                                 reward2Ior=m_or, momentum=momentum,
                                 pin_q_empty=pin_q_empty)
    # and_or_harsanyi.py lines 268-271 (_calculate_interaction)
    i_and = torch.matmul(m_and, 0.5 * (rewards + q) + p).detach()
    i_or = torch.matmul(m_or, 0.5 * (rewards + q) - p).detach()
    return {"p": p[perm], "q": q[perm], "and_effects": i_and[perm], "or_effects": i_or[perm],
            "loss": losses["loss"]}


def lab_objective(and_effects: torch.Tensor, or_effects: torch.Tensor) -> torch.Tensor:
    """Σ_{S≠∅} |I^AND_S| + |I^OR_S| (the project's objective; the entries at ∅ are left out)."""
    return and_effects[..., 1:].abs().sum(-1) + or_effects[..., 1:].abs().sum(-1)
