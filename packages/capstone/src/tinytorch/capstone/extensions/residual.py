"""Residual blocks (He et al., 2016): learn a correction to the identity, y = relu(F(x) + x).

A deep plain network must learn to pass its input through unchanged before it can improve on
it; a residual block gets the identity for free, and its gradient reaches early layers through
the ``+ x`` untouched. When the block changes the number of channels or the resolution, the
shortcut becomes a 1×1 convolution (with its own normalisation) so the two branches add up.
"""

from __future__ import annotations

from typing import Any

from tinytorch.core.activations import ReLU
from tinytorch.core.dense import Sequential
from tinytorch.core.layers import Identity, Module
from tinytorch.core.spatial import BatchNorm2d, Conv2d, GroupNorm
from tinytorch.core.tensor import Tensor

__all__ = ["ResidualBlock", "norm_layer", "make_blocks"]


def norm_layer(kind: str, channels: int, groups: int = 8) -> Module:
    """``"batch"`` -> BatchNorm2d, ``"group"`` -> GroupNorm (``groups`` groups, fewer if C is
    smaller), ``"none"`` -> Identity."""
    if kind == "batch":
        return BatchNorm2d(channels)
    if kind == "group":
        g = min(groups, channels)
        while channels % g:
            g -= 1
        return GroupNorm(g, channels)
    if kind == "none":
        return Identity()
    raise ValueError(f"norm_layer: unknown kind {kind!r} (batch, group, none)")


class ResidualBlock(Module):
    """conv3×3-norm-ReLU-conv3×3-norm, plus a shortcut, then ReLU.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output.
        stride: stride of the first convolution (2 halves the resolution).
        norm: ``"batch"``, ``"group"`` or ``"none"``.
        residual: False drops the shortcut (the "plain" twin of the same depth, for
            before/after comparisons).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1, norm: str = "batch",
                 residual: bool = True) -> None:
        super().__init__()
        self.residual = bool(residual)
        self.body = Sequential([
            Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False),
            norm_layer(norm, out_channels), ReLU(),
            Conv2d(out_channels, out_channels, 3, padding=1, bias=False),
            norm_layer(norm, out_channels),
        ])
        self.shortcut: Sequential | Identity
        if stride != 1 or in_channels != out_channels:
            self.shortcut = Sequential([Conv2d(in_channels, out_channels, 1, stride=stride, bias=False),
                                        norm_layer(norm, out_channels)])
        else:
            self.shortcut = Identity()
        self.act = ReLU()

    def forward(self, x: Any) -> Tensor:
        """``relu(body(x) + shortcut(x))`` (``relu(body(x))`` when ``residual`` is off).

        ``x`` is (N, in_channels, H, W); the result is (N, out_channels, H / stride,
        W / stride). ``self.body``, ``self.shortcut`` (an Identity, or a 1×1 convolution when
        the shape changes) and ``self.act`` are built in ``__init__``.
        """
        ### BEGIN SOLUTION
        ### HINT: the shortcut sees the block's *input* x, not the body's output
        out = self.body(x)
        if self.residual:
            out = out + self.shortcut(x)
        return self.act(out)
        ### END SOLUTION

    def extra_repr(self) -> str:
        return f"residual={self.residual}"


def make_blocks(widths: tuple, norm: str, residual: bool) -> list:
    """One block per width, halving the resolution whenever the width changes."""
    blocks, c_in = [], widths[0]
    for c_out in widths:
        blocks.append(ResidualBlock(c_in, c_out, stride=1 if c_out == c_in else 2, norm=norm,
                                    residual=residual))
        c_in = c_out
    return blocks

