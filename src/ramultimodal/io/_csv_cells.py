"""The cells of a CSV extract as the events table's values.

Times by the date policy of `ramultimodal.io.parse_times`; numbers as labs write them, with
their comparator and unit ("<5 mg/L", "12,5" with ``decimal=","``), converted to their
concept's canonical unit through `ramultimodal.terminology.units`; codes with their system
prefix; sex and smoking status from the words exports use. A cell that cannot be read marks
its row bad (`ramultimodal.io._csv_rows.Rows`), by a message that never quotes it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ramultimodal.io._csv_rows import Rows
from ramultimodal.io._events import parse_times
from ramultimodal.terminology.systems import SYSTEM_PREFIXES
from ramultimodal.terminology.units import UnitError, canonical_conversion, canonical_unit
from ramultimodal.terminology.words import SEX_WORDS, SMOKING_WORDS, fold_word

# A number as extracts write it: an optional comparator, the number, an optional unit
# ("12.5", "<5", ">= 300", "3 mg/dl", "5%", "250 10*9/L"). Only ASCII digits and one "." or
# "," (decimal= says which is the decimal separator): float() would also take "inf", "1_000"
# and Arabic-Indic digits, none of which a lab writes. A unit right after the number must
# start with a letter, "%", "[" or "{", so that "1:160" (a titre), "2+" (a dipstick) and
# "2020-01-02" stay text; after a space it may start with a digit ("10*9/L").
_QUANTITY = (
    r"^\s*(?P<comparator><=|>=|<|>)?\s*"
    r"(?P<number>[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"(?:\s*(?P<unit>(?:[^\W\d_]|[%\[{])\S*|(?<=\s)[0-9/*]\S*))?\s*\Z"
)
# What float() reads as a number but no clinical value is.
_NOT_FINITE = r"^\s*(?:<=|>=|<|>)?\s*[+-]?(?:inf(?:inity)?|nan)(?:\s.*)?\Z"


def read_times(column: pd.Series, time_format: str | None, rows: Rows, what: str) -> pd.Series:
    times = parse_times(column, time_format=time_format)
    rows.bad(
        np.flatnonzero(times.isna().to_numpy() & column.notna().to_numpy()),
        "bad time",
        f"{what} is not a {'time' if time_format is None else repr(time_format)} "
        "(pass time_format= for other formats)",
    )
    return times


def read_quantities(
    cells: pd.Series, decimal: str, rows: Rows, what: str
) -> tuple[np.ndarray, pd.Series, pd.Series]:
    """The number, comparator and unit of each cell that is a number ("<5 mg/L").

    Reports the cells that look like numbers but are not (``inf``, ``nan``, an overflow, a
    decimal separator other than `decimal`); other text is left to the caller.

    Returns
    -------
    values : ndarray of float64
        NaN where a cell is not a finite number.
    comparators, units : Series
        Missing where the cell has none.
    """
    parts = cells.str.extract(_QUANTITY)
    not_finite = f"{what} is not a finite number (leave the cell empty for a missing value)"
    rows.bad(
        np.flatnonzero(cells.str.match(_NOT_FINITE, flags=re.IGNORECASE, na=False).to_numpy()),
        "bad number",
        not_finite,
    )
    number = parts["number"]
    if decimal == ".":
        # "12,5" is a decimal comma (or a thousands separator: "1,500"); either way
        # reading it as text or as 125 would be wrong, so the user must say.
        wrong = number.str.contains(",", regex=False, na=False).to_numpy(dtype=bool)
        rows.bad(
            np.flatnonzero(wrong),
            "decimal comma",
            f"{what} has a decimal comma (pass decimal=',' if the file writes them; a ',' "
            "between thousands must go)",
        )
    else:
        # With decimal commas a "." groups thousands ("250.000" platelets per uL): not
        # a decimal point to guess at.
        wrong = number.str.contains(".", regex=False, na=False).to_numpy(dtype=bool)
        rows.bad(
            np.flatnonzero(wrong),
            "bad number",
            f"{what} has a '.' in a number read with decimal=',' (write it without "
            "thousands separators)",
        )
        number = number.str.replace(",", ".", regex=False)
    # Python's float() per cell: values written by to_csv read back bit for bit.
    values = number.where(~wrong).astype("float64").to_numpy(copy=True)
    overflow = np.isinf(values)
    rows.bad(np.flatnonzero(overflow), "bad number", not_finite)
    values[overflow] = np.nan
    return values, parts["comparator"], parts["unit"]


def _same_unit(code: str, first: str, second: str) -> bool:
    if first.strip() == second.strip():
        return True
    try:  # "mg/dl" and "mg/dL" agree: the same factor to the same canonical unit
        return canonical_conversion(code, first) == canonical_conversion(code, second)
    except UnitError:
        return False


def value_units(
    codes: pd.Series, in_cells: pd.Series, given: pd.Series, rows: Rows, what: str, where: str
) -> pd.Series:
    """The unit of each value: `given` (a unit column, ``units=``), else the cell's own."""
    both = (in_cells.notna() & given.notna()).to_numpy()
    pairs = pd.DataFrame({"code": codes[both], "cell": in_cells[both], "given": given[both]})
    for (code, cell, unit), group in pairs.groupby(["code", "cell", "given"], sort=False):
        if not _same_unit(code, cell, unit):
            rows.bad(
                group.index.to_numpy(),
                "unit conflict",
                f"{what} writes the unit {cell!r} where {where} gives {unit!r} (write the "
                "unit in one place, or make them agree)",
            )
    return given.where(given.notna(), in_cells).astype(object)


def normalise_units(
    codes: pd.Series, values: np.ndarray, units: pd.Series, rows: Rows
) -> tuple[np.ndarray, pd.Series]:
    """Convert each value to its concept's canonical unit, one (code, unit) pair at a time."""
    values, units = values.copy(), units.astype(object).copy()
    has_value = ~np.isnan(values) & rows.keep
    pairs = pd.DataFrame({"code": codes[has_value], "unit": units[has_value]})
    for (code, unit), group in pairs.groupby(["code", "unit"], dropna=False, sort=False):
        unit = None if pd.isna(unit) else unit
        try:
            factor, canonical = canonical_conversion(code, unit)
        except UnitError:
            # The unit is not quoted: in a CSV it is whatever the cell held (a name, a date).
            expected = canonical_unit(code)
            rows.bad(
                group.index.to_numpy(),
                "unknown unit",
                f"{code}: an unknown unit, not one its concept is measured in"
                + (f" (such as {expected})" if expected else ""),
            )
            continue
        index = group.index.to_numpy()
        if factor != 1.0:
            with np.errstate(over="ignore"):  # an overflow is reported just below
                values[index] *= factor
            # 5e307 mg/dL is finite; in mg/L it is not.
            overflow = index[~np.isfinite(values[index])]
            rows.bad(overflow, "bad number", f"{code}: a value out of range once converted")
            values[overflow] = np.nan
        units.iloc[index] = canonical
    return values, units


def prefixed_codes(codes: pd.Series, systems: pd.Series | None) -> pd.Series:
    """``PREFIX/code`` from a system column (URI or prefix) or a ``system|code`` token."""
    if systems is not None:
        prefixes = systems.map(lambda s: SYSTEM_PREFIXES.get(s, s), na_action="ignore")
        return (prefixes + "/" + codes).where(systems.notna(), codes)
    token = codes.str.contains("|", regex=False, na=False)
    if token.any():
        split = codes[token].str.split("|", n=1, expand=True)
        prefixes = split[0].map(lambda s: SYSTEM_PREFIXES.get(s, s))
        codes = codes.copy()
        codes[token] = prefixes + "/" + split[1]
    return codes


def _words(cells: pd.Series, words: Mapping[str, str]) -> pd.Series:
    """What each cell's word means in `words`; missing where it is none of them."""
    return cells.map(fold_word, na_action="ignore").map(words)


def read_sexes(cells: pd.Series, rows: Rows, what: str) -> pd.Series:
    sexes = _words(cells, SEX_WORDS)
    rows.bad(
        np.flatnonzero((cells.notna() & sexes.isna()).to_numpy()),
        "bad sex",
        f"{what} is not a sex (write M/F, male/female, w/weiblich, other or unknown, in any case)",
    )
    return sexes


def read_smoking_statuses(cells: pd.Series, rows: Rows, what: str) -> pd.Series:
    codes = prefixed_codes(cells.str.strip(), None)
    snomed = codes.str.fullmatch(r"SNOMED/\d+", case=False, na=False)
    statuses = _words(cells, SMOKING_WORDS)
    statuses = statuses.where(statuses.notna(), ("SNOMED/" + codes.str[7:]).where(snomed))
    rows.bad(
        np.flatnonzero((cells.notna() & statuses.isna()).to_numpy()),
        "bad smoking status",
        f"{what} is not a smoking status (write current/smoker/yes, former/ex-smoker/ex, "
        "never/no/non-smoker, unknown, or a SNOMED code such as SNOMED/8517006)",
    )
    return statuses
