"""Contrast equalisation of a grey radiograph: the global histogram, or CLAHE tile by tile.

Equalising spreads an image's grey levels over the whole range; CLAHE does it tile by tile,
with a limit on the contrast it adds, so that flat regions do not turn into amplified noise.
"""

from __future__ import annotations

import numpy as np

__all__ = ["equalize"]


def equalize(
    pixels: np.ndarray,
    method: str = "clahe",
    *,
    clip_limit: float = 2.0,
    tiles: int = 8,
    n_bins: int = 256,
) -> np.ndarray:
    """Equalise the contrast of a grey image in [0, 1].

    ``"histogram"`` maps each grey level through the image's cumulative histogram, so that
    the levels are used evenly. ``"clahe"`` (contrast-limited adaptive histogram
    equalisation, Zuiderveld 1994, Graphics Gems IV, pp. 474-485) does this per tile of a
    ``tiles x tiles`` grid, caps each tile's histogram at `clip_limit` times its mean bin
    height and spreads the excess evenly (so flat regions do not turn into amplified
    noise), and blends the four nearest tiles' mappings bilinearly so no tile seams show.
    The clip limit follows OpenCV's convention (``createCLAHE(clipLimit=2.0)``).

    Parameters
    ----------
    pixels : ndarray, shape (rows, columns)
        Grey values in [0, 1].
    method : {"clahe", "histogram"}, default "clahe"
    clip_limit : float, default 2.0
        CLAHE only: a bin may hold at most this many times its share of the tile.
    tiles : int, default 8
        CLAHE only: tiles along each side.
    n_bins : int, default 256
        Histogram bins.

    Returns
    -------
    ndarray of float32, same shape, values in [0, 1]

    Examples
    --------
    >>> dark = np.linspace(0.0, 0.25, 64, dtype=np.float32).reshape(8, 8)
    >>> flat = equalize(dark, "histogram")
    >>> round(float(flat.min()), 3), round(float(flat.max()), 3)
    (0.016, 1.0)
    >>> equalize(dark, "clahe").shape
    (8, 8)
    """
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim != 2:
        raise ValueError(f"equalize expects a 2-D grey image, got shape {pixels.shape}")
    if method not in ("clahe", "histogram"):
        raise ValueError(f"method must be 'clahe' or 'histogram', got {method!r}")
    if pixels.size == 0:
        return pixels.copy()
    levels = np.minimum((np.clip(pixels, 0.0, 1.0) * n_bins).astype(np.intp), n_bins - 1)
    if method == "histogram":
        cdf = np.cumsum(np.bincount(levels.ravel(), minlength=n_bins)) / levels.size
        return cdf.astype(np.float32)[levels]
    return _clahe(levels, clip_limit, tiles, n_bins)


def _clahe(levels: np.ndarray, clip_limit: float, tiles: int, n_bins: int) -> np.ndarray:
    rows, columns = levels.shape
    tiles_y, tiles_x = min(tiles, rows), min(tiles, columns)
    # Tile index of every row and column; tiles differ in size by at most one pixel.
    tile_of_row = np.arange(rows) * tiles_y // rows
    tile_of_col = np.arange(columns) * tiles_x // columns
    tile = tile_of_row[:, None] * tiles_x + tile_of_col[None, :]
    histograms = np.bincount(
        (tile * n_bins + levels).ravel(), minlength=tiles_y * tiles_x * n_bins
    ).reshape(tiles_y * tiles_x, n_bins)
    counts = histograms.sum(axis=1, keepdims=True)
    # Clip each histogram at clip_limit x its mean bin height; spread the excess evenly.
    limit = np.maximum(clip_limit * counts / n_bins, 1.0)
    excess = np.maximum(histograms - limit, 0.0).sum(axis=1, keepdims=True)
    clipped = np.minimum(histograms, limit) + excess / n_bins
    mappings = (np.cumsum(clipped, axis=1) / counts).astype(np.float32)
    mappings = mappings.reshape(tiles_y, tiles_x, n_bins)

    # Fractional tile coordinate of each pixel, measured between tile centres; np.interp
    # clamps pixels beyond the outer centres to the border tiles.
    def position(n_pixels: int, tile_of: np.ndarray, n_tiles: int):
        starts = np.searchsorted(tile_of, np.arange(n_tiles))
        ends = np.append(starts[1:], n_pixels)
        where = np.interp(np.arange(n_pixels), (starts + ends - 1) / 2, np.arange(n_tiles))
        low = np.floor(where).astype(np.intp)
        return low, np.minimum(low + 1, n_tiles - 1), (where - low).astype(np.float32)

    y0, y1, wy = position(rows, tile_of_row, tiles_y)
    x0, x1, wx = position(columns, tile_of_col, tiles_x)
    wy, wx = wy[:, None], wx[None, :]
    y0, y1, x0, x1 = y0[:, None], y1[:, None], x0[None, :], x1[None, :]
    top = mappings[y0, x0, levels] * (1 - wx) + mappings[y0, x1, levels] * wx
    bottom = mappings[y1, x0, levels] * (1 - wx) + mappings[y1, x1, levels] * wx
    return np.clip(top * (1 - wy) + bottom * wy, 0.0, 1.0).astype(np.float32)
