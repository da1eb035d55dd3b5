"""Where preprocessed images are kept: a memory cache shared by the process, and a folder.

Decoding a compressed radiograph is slow, and scikit-learn's cross-validation clones the
image model (and so its `ImagePreprocessor`) for every fold, each asking for every image
again. The memory cache is one for the whole process, least recently used images dropped
first beyond `MEMORY_CACHE_BYTES`; the disk cache is a folder of ``.npy`` files, written
under a temporary name and renamed, so that processes may share it. Both are keyed by the
file's path, modification time and size and the preprocessing's settings.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from ramultimodal._staging import atomic_file

__all__ = ["MEMORY_CACHE_BYTES"]


class _MemoryCache:
    """Least-recently-used images, bounded in bytes, shared by every ImagePreprocessor.

    Shared because scikit-learn clones the image model for each cross-validation fold and
    each clone builds its own preprocessor; keys hold the settings, so sharing is safe.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._images: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> np.ndarray | None:
        with self._lock:
            image = self._images.get(key)
            if image is not None:
                self._images.move_to_end(key)
            return image

    def put(self, key: tuple, image: np.ndarray) -> None:
        with self._lock:
            if key in self._images:
                self._bytes -= self._images.pop(key).nbytes
            self._images[key] = image
            self._bytes += image.nbytes
            while self._bytes > self.max_bytes and self._images:
                self._bytes -= self._images.popitem(last=False)[1].nbytes

    def clear(self) -> None:
        with self._lock:
            self._images.clear()
            self._bytes = 0

    def __len__(self) -> int:
        return len(self._images)


#: Memory for cached preprocessed images, all preprocessors together: 1 GiB holds 4096
#: images of 256 x 256 (two hands each of 2,000 patients).
MEMORY_CACHE_BYTES = 1 << 30
_MEMORY_CACHE = _MemoryCache(MEMORY_CACHE_BYTES)


class _ImageCache:
    """The lookups and stores of `ImagePreprocessor`, by its ``memory_cache`` and ``cache_dir``."""

    def _lookup(self, key: tuple | None) -> np.ndarray | None:
        if key is None:
            return None
        image = _MEMORY_CACHE.get(key) if self.memory_cache else None
        if image is not None:
            self._stats["hits"] += 1
            return image
        image = self._read_disk(key)
        self._stats["disk_hits" if image is not None else "misses"] += 1
        if image is not None and self.memory_cache:
            _MEMORY_CACHE.put(key, image)
        return image

    def _store(self, key: tuple | None, image: np.ndarray) -> None:
        if key is None:
            return
        image.setflags(write=False)  # shared between callers through the cache
        if self.memory_cache:
            _MEMORY_CACHE.put(key, image)
        if self.cache_dir is not None:
            self._write_disk(key, image)

    def _disk_path(self, key: tuple) -> Path:
        digest = hashlib.sha256(repr(key).encode()).hexdigest()[:32]
        return self.cache_dir / f"{digest}.npy"

    def _read_disk(self, key: tuple) -> np.ndarray | None:
        if self.cache_dir is None:
            return None
        try:
            image = np.load(self._disk_path(key), allow_pickle=False)
        except (OSError, ValueError, EOFError):  # absent or damaged: decode again
            return None
        if image.shape != (self.size, self.size) or image.dtype != np.float32:
            return None
        image.setflags(write=False)
        return image

    def _write_disk(self, key: tuple, image: np.ndarray) -> None:
        # A reader (another process sharing the cache) never sees half a file.
        with atomic_file(self._disk_path(key)) as partial, partial.open("wb") as stream:
            np.save(stream, image, allow_pickle=False)
