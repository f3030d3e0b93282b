"""Output-size arithmetic shared by convolution and pooling blocks.

Sizes are in pixels along one axis; ``None`` (a free input size) stays None.
"""

from __future__ import annotations

from cvgraph.errors import ShapeError

__all__ = ["conv_out", "pool_out", "conv_transpose_out"]


def conv_out(size: int | None, kernel: int, stride: int, padding: int, dilation: int, axis: str) -> int | None:
    """Return the output size of a convolution along one axis.

    ``floor((size + 2 * padding - dilation * (kernel - 1) - 1) / stride) + 1``, as
    in ``torch.nn.Conv2d``.

    Raises:
        ShapeError: when the input is smaller than the dilated kernel.
    """
    if size is None:
        return None
    span = dilation * (kernel - 1) + 1
    padded = size + 2 * padding
    if padded < span:
        raise ShapeError(
            f"input {axis} {size} is too small for the kernel",
            expected=f"{axis} + 2*padding >= {span} (dilated kernel size)",
            found=f"{axis} {size}, padding {padding}",
            hint="use a larger input, more padding, or a smaller kernel",
        )
    return (padded - span) // stride + 1


def pool_out(
    size: int | None, kernel: int, stride: int, padding: int, dilation: int, ceil_mode: bool, axis: str
) -> int | None:
    """Return the output size of a max or average pooling along one axis.

    With ``ceil_mode`` the last window may start in the padding on the right
    but never past it, as in ``torch.nn.MaxPool2d``.
    """
    if size is None:
        return None
    span = dilation * (kernel - 1) + 1
    padded = size + 2 * padding
    if padded < span:
        raise ShapeError(
            f"input {axis} {size} is too small for the pooling window",
            expected=f"{axis} + 2*padding >= {span}",
            found=f"{axis} {size}, padding {padding}",
            hint="use a larger input or a smaller window",
        )
    numerator = padded - span
    out = (-(-numerator // stride) if ceil_mode else numerator // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def conv_transpose_out(
    size: int | None, kernel: int, stride: int, padding: int, output_padding: int, dilation: int, axis: str
) -> int | None:
    """Return the output size of a transposed convolution along one axis.

    ``(size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1``.
    """
    if size is None:
        return None
    out = (size - 1) * stride - 2 * padding + dilation * (kernel - 1) + output_padding + 1
    if out < 1:
        raise ShapeError(
            f"transposed convolution gives an empty output along {axis}",
            expected="an output size >= 1",
            found=f"{axis} {size} -> {out}",
            hint="reduce the padding",
        )
    return out
