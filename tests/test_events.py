import pandas as pd
import pytest

from ramultimodal.io import EVENT_COLUMNS, as_events
from ramultimodal.terminology import code_from_coding
from ramultimodal.terminology.codes import CONCEPTS, concept_of, is_leakage_code


def test_as_events_normalises_times_and_sorts():
    events = as_events(
        [
            {
                "subject_id": "b",
                "time": "2020-01-02T10:00:00+02:00",
                "code": "LOINC/1988-5",
                "numeric_value": 3,
                "unit": "mg/L",
            },
            {"subject_id": "a", "time": None, "code": "GENDER/female"},
        ]
    )
    assert list(events.columns) == list(EVENT_COLUMNS)
    assert events["subject_id"].tolist() == ["a", "b"]
    assert pd.isna(events.loc[0, "time"])
    # The wall-clock time where it was recorded: the offset is dropped, not converted.
    assert events.loc[1, "time"] == pd.Timestamp("2020-01-02 10:00:00")
    assert events["numeric_value"].dtype == "float64"


def test_as_events_rejects_unknown_columns_and_missing_codes():
    with pytest.raises(ValueError, match="unexpected columns"):
        as_events(pd.DataFrame({"subject_id": ["a"], "code": ["x"], "value": [1]}))
    with pytest.raises(ValueError, match="subject_id and a code"):
        as_events([{"subject_id": "a", "code": None}])


def test_code_sets_group_equivalent_codes():
    assert {concept_of(code) for code in CONCEPTS["rf"].codes} == {"rf"}
    assert concept_of("LOINC/30522-7") == "crp"
    assert code_from_coding("http://snomed.info/sct", "69896004") == "SNOMED/69896004"
    assert is_leakage_code("SNOMED/69896004")
    assert is_leakage_code("ICD10CM/M05.79")
    assert not is_leakage_code("ICD10CM/M06.4")
    assert is_leakage_code("RXNORM/214555")
    assert not is_leakage_code("LOINC/1988-5")
