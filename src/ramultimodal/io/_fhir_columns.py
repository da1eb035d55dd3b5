"""The events read so far from FHIR, one list per column of the events table.

Appending to seven lists is the cheapest way to collect events from millions of small
resources, and keeps memory to the events, never the JSON. A resource's events are
contiguous and share one ``source`` string object, so a resource is found, compared with
another version of it or taken back by its range of events. A Medication's code is looked up
only when all is read (a Medication may come after its requests): until then such an event
has no code and a pending Medication key.
"""

from __future__ import annotations

from bisect import bisect_left
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["EventColumns"]


class EventColumns:
    """The events read so far, column by column.

    Attributes
    ----------
    subjects, times, codes, numerics, texts, units, sources : list
        The columns of the events table (``time`` still as the FHIR text).
    pending : list of (int, str, tuple)
        The events whose code is a Medication's: (event, ``Medication/<id>``, the
        position of its resource for a message), in event order.
    """

    def __init__(self) -> None:
        self.subjects: list[str] = []
        self.times: list[str | None] = []
        self.codes: list[str | None] = []
        self.numerics: list[float | None] = []
        self.texts: list[str | None] = []
        self.units: list[str | None] = []
        self.sources: list[str] = []
        self.pending: list[tuple[int, str, tuple[str, int | None, int | None, str]]] = []

    def __len__(self) -> int:
        return len(self.codes)

    def add(
        self,
        subject: str,
        time: str | None,
        code: str | None,
        numeric: float | None,
        text: str | None,
        unit: str | None,
        source: str,
    ) -> None:
        self.subjects.append(subject)
        self.times.append(time)
        self.codes.append(code)
        self.numerics.append(numeric)
        self.texts.append(text)
        self.units.append(unit)
        self.sources.append(source)

    def discard(self, start: int) -> None:
        """Remove the events from `start` on: those of the resource being read."""
        del self.subjects[start:], self.times[start:], self.codes[start:]
        del self.numerics[start:], self.texts[start:], self.units[start:]
        del self.sources[start:]
        while self.pending and self.pending[-1][0] >= start:
            self.pending.pop()

    def end_of(self, start: int) -> int:
        """The end of the events of the resource whose first event is `start`."""
        sources = self.sources
        source, end = sources[start], start + 1
        while end < len(sources) and sources[end] is source:
            end += 1
        return end

    def span(self, index: int) -> tuple[int, int]:
        """The range of events of the resource that gave event `index`."""
        sources, source = self.sources, self.sources[index]
        start, end = index, index + 1
        while start > 0 and sources[start - 1] is source:
            start -= 1
        while end < len(sources) and sources[end] is source:
            end += 1
        return start, end

    def facts(self, start: int, end: int) -> tuple[Any, ...]:
        """What the events from `start` to `end` say, to compare versions of a resource.

        Medication references resolve at the end: their keys are part of the content.
        """
        low = bisect_left(self.pending, start, key=_first)
        high = bisect_left(self.pending, end, lo=low, key=_first)
        return (
            self.subjects[start:end],
            self.times[start:end],
            self.codes[start:end],
            self.numerics[start:end],
            self.texts[start:end],
            self.units[start:end],
            [key for _, key, _ in self.pending[low:high]],
        )

    def raw_times(self) -> pd.Series:
        """The times as read (FHIR text), emptying the list: the table needs them parsed."""
        raw_times = pd.Series(self.times, dtype=object)
        self.times.clear()
        return raw_times

    def table(self, times: pd.Series) -> pd.DataFrame:
        """The events as a DataFrame with the parsed `times`, emptying the lists."""
        frame = pd.DataFrame(
            {
                "subject_id": self.subjects,
                "time": times,
                "code": self.codes,
                "numeric_value": np.array(self.numerics, dtype=np.float64),
                "text_value": self.texts,
                "unit": self.units,
                "source": self.sources,
            }
        )
        for column in (
            self.subjects,
            self.codes,
            self.numerics,
            self.texts,
            self.units,
            self.sources,
        ):
            column.clear()
        return frame


def _first(pending: tuple[Any, ...]) -> Any:
    return pending[0]
