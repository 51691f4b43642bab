"""DRAW's Gaussian read/write attention, as the alignDRAW authors' code computes it.

From a decoder state, one linear layer gives five numbers per image: g~x, g~y,
log delta~, log sigma^2, log gamma. With an A x B image (width A, height B) and an
N x N grid:

* centre: gx = (A + 1) / 2 * (g~x + 1), gy = (B + 1) / 2 * (g~y + 1);
* stride: delta = (max(A, B) - 1) / (N - 1) * exp(log delta~);
* variance sigma^2 = exp(log sigma^2); intensity gamma = exp(log gamma);
* filter centres mu_i = g + (i - N // 2 - 0.5) * delta for i = 0 .. N-1 (the authors'
  indexing, integer N // 2: the grid sits half a stride off-centre; kept on purpose);
* filterbank F[i, a] = exp(-(a - mu_i)^2 / (2 sigma^2)) over pixel coordinates a = 0 ..
  A-1, each row divided by (its sum + 1e-4);
* read: gamma * F_Y x F_X^T (N x N per channel); write: F_Y^T w F_X / gamma (B x A).

Colour images share one window across channels.
"""

from __future__ import annotations

import torch
from torch import nn

EPS = 1e-4


def filterbank(g: torch.Tensor, delta: torch.Tensor, sigma2: torch.Tensor, n: int, size: int) -> torch.Tensor:
    """(batch, n, size) Gaussian filterbank along one axis (see the module docstring)."""
    i = torch.arange(n, device=g.device, dtype=g.dtype)
    mu = g.unsqueeze(1) + (i - n // 2 - 0.5) * delta.unsqueeze(1)             # (b, n)
    a = torch.arange(size, device=g.device, dtype=g.dtype)
    f = torch.exp(-((a.view(1, 1, -1) - mu.unsqueeze(2)) ** 2) / (2 * sigma2.view(-1, 1, 1)))
    return f / (f.sum(2, keepdim=True) + EPS)


class Window(nn.Module):
    """Decoder state -> (F_X, F_Y, gamma) for an N x N grid over an image of ``height`` x ``width``."""

    def __init__(self, state_dim: int, n: int, height: int, width: int):
        super().__init__()
        if n < 2:
            raise ValueError(f"an attention grid needs N >= 2, got {n}")
        self.n, self.height, self.width = n, height, width
        self.linear = nn.Linear(state_dim, 5)

    def params(self, h: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(gx, gy, delta, sigma2, gamma), each (batch,)."""
        p = self.linear(h)
        if p.dtype in (torch.float16, torch.bfloat16):  # attention maths in float32 under autocast
            p = p.float()
        gx_, gy_, log_delta, log_sigma2, log_gamma = p.unbind(1)
        a, b = self.width, self.height
        gx = (a + 1) / 2 * (gx_ + 1)
        gy = (b + 1) / 2 * (gy_ + 1)
        delta = (max(a, b) - 1) / (self.n - 1) * torch.exp(log_delta)
        return gx, gy, delta, torch.exp(log_sigma2), torch.exp(log_gamma)

    def forward(self, h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        gx, gy, delta, sigma2, gamma = self.params(h)
        fx = filterbank(gx, delta, sigma2, self.n, self.width)
        fy = filterbank(gy, delta, sigma2, self.n, self.height)
        return fx, fy, gamma


def read(x: torch.Tensor, fx: torch.Tensor, fy: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """gamma * F_Y x F_X^T per channel: (b, c, H, W) -> (b, c, N, N)."""
    x = x.to(fx.dtype)
    return (fy.unsqueeze(1) @ x @ fx.transpose(1, 2).unsqueeze(1)) * gamma.view(-1, 1, 1, 1)


def write(w: torch.Tensor, fx: torch.Tensor, fy: torch.Tensor, gamma: torch.Tensor) -> torch.Tensor:
    """F_Y^T w F_X / gamma per channel: (b, c, N, N) -> (b, c, H, W)."""
    w = w.to(fx.dtype)
    return (fy.transpose(1, 2).unsqueeze(1) @ w @ fx.unsqueeze(1)) / gamma.view(-1, 1, 1, 1)
