"""Attention masks: which keys each query may look at.

TinyTorch follows ``torch.nn.functional.scaled_dot_product_attention``:

* a **boolean** mask says ``True`` = *attend* and ``False`` = *blocked*;
* a **float** mask is *added* to the scores before the softmax (``0`` keeps a key, ``-inf``
  blocks it, anything in between biases it).

A mask broadcasts against the scores, whose shape is ``(*batch, L_query, L_key)`` — for
multi-head attention ``(batch, heads, L_query, L_key)``. So a ``(L_query, L_key)`` causal mask
applies to every sequence and head, and the ``(batch, 1, 1, L_key)`` padding mask to every
head and every query of its sequence.

**Two conventions, each where PyTorch has it.** The functional form (``masked_softmax``,
``scaled_dot_product_attention``) and these helpers read a boolean mask as ``True`` = attend,
as ``torch.nn.functional.scaled_dot_product_attention`` does. The *modules*
(:class:`~tinytorch.core.attention.multihead.MultiHeadAttention`, ``TransformerBlock``,
``TinyGPT``) take ``attn_mask`` / ``key_padding_mask`` as ``torch.nn.MultiheadAttention`` does:
``True`` = **masked out**. So a helper's mask goes to a module inverted — ``attn_mask=~causal_mask(L).numpy()``,
``key_padding_mask=~padding_mask(lengths).numpy()[:, 0, 0]`` — or as a float mask, which means
the same everywhere: ``as_additive(causal_mask(L))``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tinytorch.core.tensor import Tensor

__all__ = ["causal_mask", "padding_mask", "combine_masks", "mask_array", "as_additive"]


def mask_array(mask: Any, who: str = "mask", true_means: str = "attend") -> Any:
    """A mask as a bool or floating numpy array, or a float Tensor kept as a Tensor.

    Float masks that are Tensors stay Tensors, so a learned additive bias (one that requires
    grad) receives its gradient. Anything else becomes a numpy array. Integer masks are refused:
    1/0 could mean "attend" (a bool mask) or "add one" (a float mask), so say which.
    ``true_means`` names what a boolean True means to the caller, for the error message.
    """
    if mask is None:
        return None
    if isinstance(mask, Tensor):
        if mask.dtype.kind == "f":
            return mask
        arr = mask.data
    else:
        arr = np.asarray(mask)
    if arr.dtype == np.bool_ or arr.dtype.kind == "f":
        return arr
    raise TypeError(
        f"{who} must be boolean (True = {true_means}) or floating point (added to the scores), "
        f"got dtype {arr.dtype}; for a 0/1 integer mask write mask.astype(bool)"
    )


def causal_mask(size_query: int, size_key: int | None = None) -> Tensor:
    """The causal ("no peeking ahead") mask: query ``i`` may attend to keys ``0..i``.

    Args:
        size_query: number of queries (rows).
        size_key: number of keys (columns); defaults to ``size_query``.

    Returns:
        A bool Tensor of shape ``(size_query, size_key)``, ``True`` on and below the diagonal.
        With ``size_key != size_query`` the diagonal starts at the top-left corner, as with
        PyTorch's ``is_causal=True``.

    Example:
        >>> causal_mask(3).numpy().astype(int)
        array([[1, 0, 0],
               [1, 1, 0],
               [1, 1, 1]])
    """
    size_key = size_query if size_key is None else size_key
    for name, n in (("size_query", size_query), ("size_key", size_key)):
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"causal_mask: {name} must be a non-negative int, got {n!r}")
    ### BEGIN SOLUTION
    ### HINT: key j is allowed for query i when j <= i; compare an arange column with an arange row
    rows = np.arange(size_query)[:, None]
    cols = np.arange(size_key)[None, :]
    return Tensor(cols <= rows)
    ### END SOLUTION


def padding_mask(lengths: Any, max_len: int | None = None) -> Tensor:
    """Mask out the padding at the end of each sequence of a batch.

    Args:
        lengths: the true length of each sequence, shape ``(batch,)``.
        max_len: the padded length (default: the longest length).

    Returns:
        A bool Tensor of shape ``(batch, 1, 1, max_len)``: ``True`` at real tokens, ``False``
        at padding. It broadcasts over heads and queries of ``(batch, heads, L_q, L_k)`` scores,
        so no query attends to a padding key.

    Example:
        >>> padding_mask([2, 3]).numpy()[:, 0, 0].astype(int)
        array([[1, 1, 0],
               [1, 1, 1]])
    """
    lens = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    if lens.ndim != 1 or (lens.size and lens.dtype.kind not in "iu"):
        raise ValueError(
            f"padding_mask: lengths must be a 1-D sequence of ints, got shape {lens.shape} "
            f"and dtype {lens.dtype}"
        )
    lens = lens.astype(np.int64)
    if (lens < 0).any():
        raise ValueError(f"padding_mask: lengths must be >= 0, got {lens.tolist()}")
    longest = int(lens.max()) if lens.size else 0
    max_len = longest if max_len is None else int(max_len)
    if longest > max_len:
        raise ValueError(f"padding_mask: a length of {longest} does not fit in max_len={max_len}")
    keep = np.arange(max_len)[None, :] < lens[:, None]
    return Tensor(keep[:, None, None, :])


def combine_masks(*masks: Any) -> Any:
    """One mask that blocks whatever any of ``masks`` blocks (``None`` entries are skipped).

    Boolean masks combine with a logical AND (attend only where all of them allow it). If any
    mask is a float (additive) mask, the result is additive: booleans turn into ``0``/``-inf``
    and everything is summed. The masks broadcast together; the result has the broadcast shape.

    Returns:
        A bool Tensor, a float Tensor, or ``None`` when every mask is ``None``.

    Example:
        >>> both = combine_masks(causal_mask(3), padding_mask([2, 3]))
        >>> both.shape
        (2, 1, 3, 3)
        >>> both.numpy()[0, 0].astype(int)    # sequence 0: causal, and key 2 is padding
        array([[1, 0, 0],
               [1, 1, 0],
               [1, 1, 0]])
    """
    parts = [mask_array(m, "combine_masks: each mask") for m in masks if m is not None]
    if not parts:
        return None
    shapes = [tuple(p.shape) for p in parts]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        raise ValueError(
            f"combine_masks: masks of shapes {', '.join(map(str, shapes))} cannot be broadcast "
            "together"
        ) from None
    if all(not isinstance(p, Tensor) and p.dtype == np.bool_ for p in parts):
        out = parts[0]
        for p in parts[1:]:
            out = np.logical_and(out, p)
        return Tensor(np.array(out, dtype=bool))
    total = None
    for p in parts:
        if not isinstance(p, Tensor) and p.dtype == np.bool_:
            p = Tensor(np.where(p, np.float32(0.0), np.float32(-np.inf)))
        elif not isinstance(p, Tensor):
            p = Tensor(p, dtype=p.dtype)
        total = p if total is None else total + p
    return total


def as_additive(mask: Any, dtype: Any = np.float32) -> Tensor:
    """A boolean mask (True = attend) as a float one: 0 where it attends, -inf where blocked.

    A float mask is added to the scores by every attention function and module, PyTorch's and
    TinyTorch's alike, so it is the one form that cannot be read the wrong way round.

    Example:
        >>> as_additive(causal_mask(2)).numpy()
        array([[  0., -inf],
               [  0.,   0.]], dtype=float32)
    """
    arr = mask_array(mask, "as_additive: mask")
    if isinstance(arr, Tensor) or arr.dtype != np.bool_:
        raise TypeError(f"as_additive: expected a boolean mask (True = attend), got dtype "
                        f"{arr.dtype}")
    return Tensor(np.where(arr, 0.0, -np.inf).astype(dtype), dtype=dtype)
