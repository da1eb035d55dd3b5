"""Readers: radiographs to arrays, FHIR, CSV and MEDS to the events table, cohort folders.

Nothing here learns anything (see docs/data-model.md for the tables it returns).
"""

from ramultimodal.io._cohort import EVENT_SOURCES, DatasetError, read_cohort, read_cohort_events
from ramultimodal.io._cohort_records import CohortRecords
from ramultimodal.io._csv_long import read_events_csv
from ramultimodal.io._csv_rows import CSVReadError
from ramultimodal.io._csv_wide import read_wide_csv
from ramultimodal.io._events import EVENT_COLUMNS, as_events, empty_events, parse_times
from ramultimodal.io._events_to_fhir import events_to_fhir
from ramultimodal.io._fhir import read_fhir
from ramultimodal.io._fhir_problems import FHIRReadError
from ramultimodal.io._image import read_image
from ramultimodal.io._image_meta import ImageMeta, ImageReadError
from ramultimodal.io._joints_csv import read_joints_csv
from ramultimodal.io._meds import read_meds, write_meds
from ramultimodal.io._meds_read import MEDSReadError
from ramultimodal.io._write_dicom import write_dicom, write_png
from ramultimodal.io._write_fhir import write_fhir_bundles, write_fhir_ndjson

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_SOURCES",
    "CSVReadError",
    "CohortRecords",
    "DatasetError",
    "FHIRReadError",
    "ImageMeta",
    "ImageReadError",
    "MEDSReadError",
    "as_events",
    "empty_events",
    "events_to_fhir",
    "parse_times",
    "read_cohort",
    "read_cohort_events",
    "read_events_csv",
    "read_fhir",
    "read_image",
    "read_joints_csv",
    "read_meds",
    "read_wide_csv",
    "write_dicom",
    "write_fhir_bundles",
    "write_fhir_ndjson",
    "write_meds",
    "write_png",
]
