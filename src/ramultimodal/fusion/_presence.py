"""Which patients have a modality: the one rule every fusion estimator shares.

A row *has* a modality when the modality's columns are not all missing. A cell is missing
when it is ``None``, NaN/NaT/``pd.NA``, an empty string, or an empty container (the empty
list of image paths of a patient without a radiograph). Anything else counts as data, so a
patient with one lab out of three still has the EHR modality; what the base model does with
the other two is its own business.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ramultimodal._missing import is_missing


def _missing_matrix(values: np.ndarray) -> np.ndarray:
    """Element-wise missingness of a 2-D array, vectorised where the dtype allows."""
    if values.dtype.kind in "fc":
        return np.isnan(values)
    if values.dtype.kind in "mM":
        return np.isnat(values)
    if values.dtype.kind in "iub":
        return np.zeros(values.shape, dtype=bool)
    return np.vectorize(is_missing, otypes=[bool])(values) if values.size else values.astype(bool)


def modality_presence(data: Any) -> np.ndarray:
    """Which rows have the modality: not all of their cells are missing.

    Parameters
    ----------
    data : array-like or DataFrame of shape (n_patients,) or (n_patients, n_columns)
        The modality's columns, as selected from X (a Series or 1-D array for one column).

    Returns
    -------
    ndarray of bool of shape (n_patients,)
        True where the patient has the modality.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> from ramultimodal.fusion._presence import modality_presence
    >>> modality_presence(pd.Series([["a.dcm", "b.dcm"], [], None]))
    array([ True, False, False])
    >>> modality_presence(np.array([[1.0, np.nan], [np.nan, np.nan]]))
    array([ True, False])
    """
    if isinstance(data, pd.Series):
        data = data.to_frame()
    if isinstance(data, pd.DataFrame):
        if data.shape[1] == 0:
            return np.zeros(len(data), dtype=bool)
        # Column by column, so numeric columns stay vectorised next to a column of lists.
        missing = np.column_stack(
            [
                data[column].isna().to_numpy()
                if pd.api.types.is_numeric_dtype(data[column].dtype)
                else _missing_matrix(data[column].to_numpy(dtype=object)[:, None])[:, 0]
                for column in data.columns
            ]
        )
    else:
        values = np.asarray(data)
        if values.ndim == 1:
            values = values[:, None]
        if values.shape[1] == 0:
            return np.zeros(len(values), dtype=bool)
        missing = _missing_matrix(values)
    return ~missing.all(axis=1)
