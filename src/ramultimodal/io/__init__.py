"""Readers: radiographs to arrays, FHIR and CSV to the events table.

Nothing here learns anything (see docs/data-model.md for the tables it returns).
"""

from ramultimodal.io._events import (
    EVENT_COLUMNS,
    SYSTEM_PREFIXES,
    as_events,
    code_from_coding,
    empty_events,
)
from ramultimodal.io._image import ImageMeta, ImageReadError, read_image

__all__ = [
    "EVENT_COLUMNS",
    "SYSTEM_PREFIXES",
    "ImageMeta",
    "ImageReadError",
    "as_events",
    "code_from_coding",
    "empty_events",
    "read_image",
]
