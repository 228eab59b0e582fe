# Copyright kufenet_grasp maintainers
# SPDX-License-Identifier: Apache-2.0
"""Maximum mean discrepancy (MMD²) between two sets of samples.

In hint learning the samples are **the per-sample attention vectors of a batch**: the
teacher set is ``{F(T_l)(x_i)}`` and the student set ``{F(S_l)(x_i)}`` for the B images of
the batch (each a flattened, L2-normalised ``h*w`` vector). MMD compares the two
distributions, not image-by-image pairs, so the student is not over-constrained.
"""

from __future__ import annotations

import torch

#: valid kernel names; ``'gaussian'`` is the default
KERNELS: tuple[str, ...] = ('gaussian', 'poly')


def _check(x: torch.Tensor, y: torch.Tensor) -> None:
    """Raise ValueError unless x and y are ``(n, d)`` and ``(m, d)`` with n, m >= 1."""
    for name, t in (('x', x), ('y', y)):
        if not isinstance(t, torch.Tensor) or t.ndim != 2 or t.shape[0] < 1:
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t)
            raise ValueError(f'mmd: {name} must be a non-empty (n, d) tensor, got {shape}')
    if x.shape[1] != y.shape[1]:
        raise ValueError(f'mmd: feature sizes differ: x has {x.shape[1]}, y has {y.shape[1]}')


def gaussian_kernel(
    z: torch.Tensor, num_kernels: int = 5, multiplier: float = 2.0
) -> torch.Tensor:
    """Multi-bandwidth Gaussian kernel matrix of the rows of ``z`` (averaged over kernels).

    Bandwidths are ``base * multiplier**k`` for ``k = -(num_kernels//2) .. num_kernels//2``,
    with ``base`` the mean pairwise squared distance of distinct rows (DAN style; detached).
    Averaging (not summing) keeps each entry in ``[0, 1]``.
    """
    d2 = torch.cdist(z, z, p=2.0).pow(2)
    n = z.shape[0]
    base = d2.detach().sum() / max(n * n - n, 1)
    base = torch.clamp(base, min=1e-8)
    ks = torch.arange(num_kernels, dtype=z.dtype, device=z.device) - num_kernels // 2
    bandwidths = base * multiplier ** ks
    return torch.exp(-d2.unsqueeze(0) / bandwidths.view(-1, 1, 1)).mean(dim=0)


def poly_kernel(z: torch.Tensor) -> torch.Tensor:
    """Polynomial kernel ``(x·y)²`` of the rows of ``z`` (NST, degree 2, c = 0)."""
    return (z @ z.t()).pow(2)


def mmd2(x: torch.Tensor, y: torch.Tensor, kernel: str = 'gaussian') -> torch.Tensor:
    """Biased MMD² estimate between samples ``x (n, d)`` and ``y (m, d)``.

    ``MMD² = mean k(x, x') + mean k(y, y') - 2 mean k(x, y)``; ≈ 0 when both sets come from
    the same distribution, > 0 otherwise. Differentiable in x and y.
    """
    _check(x, y)
    if kernel not in KERNELS:
        raise ValueError(f'mmd: kernel must be one of {KERNELS}, got {kernel!r}')
    n = x.shape[0]
    z = torch.cat([x, y], dim=0)
    k = gaussian_kernel(z) if kernel == 'gaussian' else poly_kernel(z)
    kxx = k[:n, :n].mean()
    kyy = k[n:, n:].mean()
    kxy = k[:n, n:].mean()
    return torch.clamp(kxx + kyy - 2.0 * kxy, min=0.0)
