"""Readers: radiographs to arrays, FHIR, CSV, MEDS and OMOP to the events table, cohorts.

Nothing here learns anything (see docs/data-model.md for the tables it returns).
"""

from ramultimodal.io._cohort import EVENT_SOURCES, DatasetError, read_cohort, read_cohort_events
from ramultimodal.io._cohort_records import CohortRecords
from ramultimodal.io._csv_long import read_events_csv
from ramultimodal.io._csv_rows import CSVReadError
from ramultimodal.io._csv_wide import read_wide_csv
from ramultimodal.io._dicomweb import (
    DICOMwebError,
    dicomweb_cache_dir,
    fetch_instance,
    prefetch_instances,
)
from ramultimodal.io._dicomweb_qido import find_radiographs
from ramultimodal.io._events import EVENT_COLUMNS, as_events, empty_events, parse_times
from ramultimodal.io._events_to_fhir import events_to_fhir
from ramultimodal.io._fhir import read_fhir
from ramultimodal.io._fhir_problems import FHIRReadError
from ramultimodal.io._horizon import HORIZONS, HorizonError, horizon_days, horizon_labels
from ramultimodal.io._image import read_image
from ramultimodal.io._image_meta import ImageMeta, ImageReadError
from ramultimodal.io._joints_csv import read_joints_csv
from ramultimodal.io._meds import read_meds, write_meds
from ramultimodal.io._meds_read import MEDSReadError
from ramultimodal.io._omop_cohort import ra_label_sql
from ramultimodal.io._omop_connection import OMOPReadError
from ramultimodal.io._omop_read import read_omop
from ramultimodal.io._write_dicom import write_dicom, write_png
from ramultimodal.io._write_fhir import write_fhir_bundles, write_fhir_ndjson
from ramultimodal.io._write_omop import write_omop

__all__ = [
    "EVENT_COLUMNS",
    "EVENT_SOURCES",
    "HORIZONS",
    "CSVReadError",
    "CohortRecords",
    "DICOMwebError",
    "DatasetError",
    "FHIRReadError",
    "HorizonError",
    "ImageMeta",
    "ImageReadError",
    "MEDSReadError",
    "OMOPReadError",
    "as_events",
    "dicomweb_cache_dir",
    "empty_events",
    "events_to_fhir",
    "fetch_instance",
    "find_radiographs",
    "horizon_days",
    "horizon_labels",
    "parse_times",
    "prefetch_instances",
    "ra_label_sql",
    "read_cohort",
    "read_cohort_events",
    "read_events_csv",
    "read_fhir",
    "read_image",
    "read_joints_csv",
    "read_meds",
    "read_omop",
    "read_wide_csv",
    "write_dicom",
    "write_fhir_bundles",
    "write_fhir_ndjson",
    "write_meds",
    "write_omop",
    "write_png",
]
