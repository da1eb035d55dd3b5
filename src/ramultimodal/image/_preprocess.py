"""From a decoded radiograph to the square array a CNN eats.

`ImagePreprocessor.load` is the one call the image model makes per image: read (any format
`read_image` knows), flip left hands to the right, shrink keeping the aspect ratio,
optionally equalise the contrast, pad to a square. Decoding a compressed radiograph is the
slow step (``benchmarks/bench_image_io.py`` times it per file) and cross-validation asks for
every image once per fold, so results are cached in memory and, when asked, on disk.

numpy and Pillow only: preprocessing stays usable (and fast to import) without torch; the
training augmentation is in ``_augmentation.py``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from ramultimodal.image._image_cache import _MEMORY_CACHE, _ImageCache
from ramultimodal.io import read_image

__all__ = [
    "ImagePreprocessor",
    "equalize",
    "letterbox",
]

# Bump when the pipeline's output changes, so that old on-disk cache files are not reused.
_CACHE_VERSION = 1
_CONTRASTS = (None, "clahe", "histogram")


def letterbox(pixels: np.ndarray, size: int, *, fill: float = 0.0) -> np.ndarray:
    """Resize to fit a ``size x size`` square keeping the aspect ratio, then pad.

    The longest side becomes `size`; the other is padded equally on both sides with `fill`
    (black by default, like the background of a bone-bright radiograph). Shrinking averages
    over the area each output pixel covers, so fine structure (trabeculae, joint margins)
    is not aliased; enlarging is bilinear.

    Parameters
    ----------
    pixels : ndarray, shape (rows, columns)
        A grey image.
    size : int
        Side of the square output.
    fill : float, default 0.0
        Value of the padding.

    Returns
    -------
    ndarray of float32, shape (size, size)

    Examples
    --------
    >>> image = np.ones((4, 2), dtype=np.float32)
    >>> letterbox(image, 4)
    array([[0., 1., 1., 0.],
           [0., 1., 1., 0.],
           [0., 1., 1., 0.],
           [0., 1., 1., 0.]], dtype=float32)
    >>> letterbox(np.arange(16, dtype=np.float32).reshape(4, 4), 2)
    array([[ 2.5,  4.5],
           [10.5, 12.5]], dtype=float32)
    """
    return _pad_square(_fit_within(pixels, size), size, fill)


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


def _fit_within(pixels: np.ndarray, size: int) -> np.ndarray:
    """Resize so that the longest side is `size`, keeping the aspect ratio."""
    pixels = np.asarray(pixels, dtype=np.float32)
    if pixels.ndim != 2 or pixels.size == 0:
        raise ValueError(f"expected a non-empty 2-D grey image, got shape {pixels.shape}")
    rows, columns = pixels.shape
    scale = size / max(rows, columns)
    shape = (max(1, round(rows * scale)), max(1, round(columns * scale)))
    if shape == (rows, columns):
        return pixels
    shrinking = scale < 1
    resized = Image.fromarray(np.ascontiguousarray(pixels)).resize(
        (shape[1], shape[0]),
        Image.Resampling.BOX if shrinking else Image.Resampling.BILINEAR,
        # Pillow's docs: reducing_gap >= 3 is indistinguishable from fair (area) resampling,
        # at about half the cost on a 2000 px radiograph.
        reducing_gap=3.0 if shrinking else None,
    )
    return np.asarray(resized, dtype=np.float32)


def _pad_square(pixels: np.ndarray, size: int, fill: float) -> np.ndarray:
    rows, columns = pixels.shape
    square = np.full((size, size), fill, dtype=np.float32)
    top, left = (size - rows) // 2, (size - columns) // 2
    square[top : top + rows, left : left + columns] = pixels
    return square


def _as_unit_image(pixels: np.ndarray) -> np.ndarray:
    """A caller's array as float32 in [0, 1]: floats clipped, integers over their max."""
    pixels = np.asarray(pixels)
    if pixels.ndim != 2 or pixels.size == 0:
        raise ValueError(
            f"expected a non-empty 2-D grey image, got shape {pixels.shape}; "
            "read colour or multi-frame files with ramultimodal.io.read_image"
        )
    if pixels.dtype == bool:
        return pixels.astype(np.float32)
    if np.issubdtype(pixels.dtype, np.integer):
        return pixels.astype(np.float32) / np.float32(np.iinfo(pixels.dtype).max)
    return np.clip(np.nan_to_num(pixels.astype(np.float32)), 0.0, 1.0)


class ImagePreprocessor(_ImageCache):
    """Read, orient, shrink, equalise and pad radiographs, with a cache.

    Parameters
    ----------
    size : int, default 256
        Side of the square output (`letterbox`).
    contrast : {None, "clahe", "histogram"}, default None
        Contrast equalisation (`equalize`), applied to the image before padding so that the
        padding does not count in the histograms.
    flip_left : bool, default True
        Mirror images of left hands (laterality ``"L"``) so that every hand has the
        orientation of a right hand and the network need not learn both.
    cache_dir : str or Path, optional
        Folder for an on-disk cache of preprocessed images (``.npy`` files named by a hash
        of the file's path, modification time and size, and these settings). Safe to share
        between processes; delete it to start over.
    memory_cache : bool, default True
        Keep preprocessed images in a process-wide memory cache (least recently used dropped
        first beyond `MEMORY_CACHE_BYTES`), shared by all preprocessors, so that the clones
        made by cross-validation do not decode the same file again.

    Examples
    --------
    >>> prep = ImagePreprocessor(size=4)
    >>> prep.load(np.ones((8, 4), dtype=np.float32))
    array([[0., 1., 1., 0.],
           [0., 1., 1., 0.],
           [0., 1., 1., 0.],
           [0., 1., 1., 0.]], dtype=float32)
    >>> ImagePreprocessor(size=2).load(np.eye(2, dtype=np.float32), laterality="L")
    array([[0., 1.],
           [1., 0.]], dtype=float32)
    """

    def __init__(
        self,
        size: int = 256,
        contrast: str | None = None,
        flip_left: bool = True,
        cache_dir: str | os.PathLike[str] | None = None,
        memory_cache: bool = True,
    ) -> None:
        if int(size) < 1:
            raise ValueError(f"size must be a positive int, got {size!r}")
        if contrast not in _CONTRASTS:
            raise ValueError(f"contrast must be one of {_CONTRASTS}, got {contrast!r}")
        self.size = int(size)
        self.contrast = contrast
        self.flip_left = bool(flip_left)
        self.cache_dir = Path(cache_dir) if cache_dir is not None else None
        self.memory_cache = bool(memory_cache)
        self._stats = {"hits": 0, "disk_hits": 0, "misses": 0}

    def __repr__(self) -> str:
        return (
            f"ImagePreprocessor(size={self.size}, contrast={self.contrast!r}, "
            f"flip_left={self.flip_left}, cache_dir={self.cache_dir!r}, "
            f"memory_cache={self.memory_cache})"
        )

    def load(self, source: str | os.PathLike[str] | np.ndarray, *, laterality: str | None = None):
        """Return one preprocessed image.

        Parameters
        ----------
        source : str, Path or ndarray
            An image file (`ramultimodal.io.read_image` reads it; its laterality comes from
            the file), or a 2-D grey array: floats are taken as [0, 1] (clipped), integers
            are divided by their dtype's maximum. Arrays are not cached.
        laterality : {"L", "R"}, optional
            Overrides the file's laterality, e.g. from the image manifest for PNG files,
            which carry none.

        Returns
        -------
        ndarray of float32, shape (size, size)
            Values in [0, 1], bone bright. Read-only: it is the cached array itself.

        Raises
        ------
        ramultimodal.io.ImageReadError
            When the file cannot be read (see `read_image`).
        """
        side = laterality.strip().upper() if laterality else None
        if isinstance(source, np.ndarray):
            return self._preprocess(_as_unit_image(source), side)
        path = Path(source).resolve()
        try:
            stat = path.stat()
            key = (str(path), stat.st_mtime_ns, stat.st_size, side, *self._settings())
        except OSError:  # missing file: let read_image say so in its own words
            key = None
        cached = self._lookup(key)
        if cached is not None:
            return cached
        pixels, meta = read_image(path, target_size=self.size)
        image = self._preprocess(pixels, side or meta.laterality)
        self._store(key, image)
        return image

    def cache_info(self) -> dict[str, int]:
        """This preprocessor's memory hits, disk hits and misses (decodes).

        Examples
        --------
        >>> ImagePreprocessor().cache_info()
        {'hits': 0, 'disk_hits': 0, 'misses': 0}
        """
        return dict(self._stats)

    @staticmethod
    def clear_memory_cache() -> None:
        """Forget every image held in the process-wide memory cache."""
        _MEMORY_CACHE.clear()

    def _settings(self) -> tuple:
        return (self.size, self.contrast, self.flip_left, _CACHE_VERSION)

    def _preprocess(self, pixels: np.ndarray, laterality: str | None) -> np.ndarray:
        if self.flip_left and laterality == "L":
            pixels = np.ascontiguousarray(pixels[:, ::-1])
        pixels = _fit_within(pixels, self.size)
        if self.contrast is not None:
            pixels = equalize(pixels, self.contrast)
        return _pad_square(pixels, self.size, 0.0)
