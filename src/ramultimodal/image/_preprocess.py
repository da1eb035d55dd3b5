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

from ramultimodal.image._contrast import equalize
from ramultimodal.image._image_cache import _MEMORY_CACHE, _ImageCache
from ramultimodal.image._letterbox import _fit_within, _pad_square
from ramultimodal.io import read_image
from ramultimodal.io._dicomweb import fetch_instance
from ramultimodal.io._dicomweb_url import is_dicomweb_url

__all__ = ["ImagePreprocessor"]

# Bump when the pipeline's output changes, so that old on-disk cache files are not reused.
_CACHE_VERSION = 1
_CONTRASTS = (None, "clahe", "histogram")


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
            the file), a ``dicomweb://`` URL of an instance (fetched into the DICOMweb
            cache, then read as a file), or a 2-D grey array: floats are taken as [0, 1]
            (clipped), integers are divided by their dtype's maximum. Arrays are not cached.
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
        if is_dicomweb_url(source):
            # Fetched once into the DICOMweb cache; from there on, a file like any other.
            source = fetch_instance(source)
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
