"""Evaluation a clinician can trust: patient-grouped CV, metrics with confidence intervals,
calibration, decision curves and model comparisons.

It scores the models it is given and trains none of its own.
"""

from ramultimodal.evaluation._compare import AUCComparison, delong_test, paired_bootstrap
from ramultimodal.evaluation._cv import PatientCVResult, patient_cross_validate
from ramultimodal.evaluation._decision_curve import net_benefit
from ramultimodal.evaluation._metrics import (
    METRICS,
    MetricEstimate,
    bootstrap_metric,
    calibration_intercept,
    calibration_slope,
    expected_calibration_error,
    metric_table,
    sensitivity_at_specificity,
)

__all__ = [
    "METRICS",
    "AUCComparison",
    "MetricEstimate",
    "PatientCVResult",
    "bootstrap_metric",
    "calibration_intercept",
    "calibration_slope",
    "delong_test",
    "expected_calibration_error",
    "metric_table",
    "net_benefit",
    "paired_bootstrap",
    "patient_cross_validate",
    "sensitivity_at_specificity",
]
