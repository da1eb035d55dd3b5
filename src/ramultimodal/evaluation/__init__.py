"""Evaluation a clinician can trust: patient-grouped CV, metrics with confidence intervals,
calibration, decision curves, subgroups, survival metrics for time to RA, model comparisons,
explanations (why the model said what it said, patient by patient) and a self-contained
report.

It scores the models it is given and trains none of its own.
"""

from ramultimodal.evaluation._clinical import ClinicalEvaluation, evaluate_predictions
from ramultimodal.evaluation._compare import AUCComparison, delong_test, paired_bootstrap
from ramultimodal.evaluation._contributions import FusionExplanation, explain_fusion
from ramultimodal.evaluation._cv import PatientCVResult, patient_cross_validate
from ramultimodal.evaluation._decision_curve import net_benefit
from ramultimodal.evaluation._explain_plots import plot_importance, plot_modality_contributions
from ramultimodal.evaluation._hand_diagram import hand_sides, plot_hand_diagram
from ramultimodal.evaluation._joint_figures import write_joint_figures
from ramultimodal.evaluation._joint_overlay import plot_joints_on_radiograph
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
from ramultimodal.evaluation._model_card import tripod_ai_table
from ramultimodal.evaluation._model_card_items import TRIPOD_AI_ITEMS, TripodItem
from ramultimodal.evaluation._model_card_study import StudyFacts
from ramultimodal.evaluation._plots import (
    plot_calibration,
    plot_decision_curve,
    plot_precision_recall,
    plot_roc,
    plot_subgroups,
)
from ramultimodal.evaluation._reasons import importance, reasons
from ramultimodal.evaluation._recalibration import (
    cross_fitted_recalibration,
    recalibration_table,
)
from ramultimodal.evaluation._report import write_report
from ramultimodal.evaluation._runner import (
    ablation_table,
    clinical_subgroups,
    cross_validate_models,
)
from ramultimodal.evaluation._shortfall import (
    flag_shortfalls,
    fusion_shortfalls,
    shortfall_messages,
    training_shortfall_notes,
)
from ramultimodal.evaluation._subgroups import LeakageWarning, check_leakage, subgroup_table
from ramultimodal.evaluation._survival import (
    SURVIVAL_METRICS,
    bootstrap_survival_metric,
    harrell_c,
    integrated_brier_score,
    survival_metric_table,
    time_dependent_auc,
    uno_c,
)
from ramultimodal.evaluation._survival_calibration import horizon_calibration, kaplan_meier_at
from ramultimodal.evaluation._survival_cv import cross_validate_survival
from ramultimodal.evaluation._survival_plots import plot_kaplan_meier
from ramultimodal.evaluation._survival_report import time_to_ra_evaluation
from ramultimodal.evaluation._tree_shap import model_contributions

__all__ = [
    "METRICS",
    "SURVIVAL_METRICS",
    "TRIPOD_AI_ITEMS",
    "AUCComparison",
    "ClinicalEvaluation",
    "FusionExplanation",
    "LeakageWarning",
    "MetricEstimate",
    "PatientCVResult",
    "StudyFacts",
    "TripodItem",
    "ablation_table",
    "bootstrap_metric",
    "bootstrap_survival_metric",
    "calibration_intercept",
    "calibration_slope",
    "check_leakage",
    "clinical_subgroups",
    "cross_fitted_recalibration",
    "cross_validate_models",
    "cross_validate_survival",
    "delong_test",
    "evaluate_predictions",
    "expected_calibration_error",
    "explain_fusion",
    "flag_shortfalls",
    "fusion_shortfalls",
    "hand_sides",
    "harrell_c",
    "horizon_calibration",
    "importance",
    "integrated_brier_score",
    "kaplan_meier_at",
    "metric_table",
    "model_contributions",
    "net_benefit",
    "paired_bootstrap",
    "patient_cross_validate",
    "plot_calibration",
    "plot_decision_curve",
    "plot_hand_diagram",
    "plot_importance",
    "plot_joints_on_radiograph",
    "plot_kaplan_meier",
    "plot_modality_contributions",
    "plot_precision_recall",
    "plot_roc",
    "plot_subgroups",
    "reasons",
    "recalibration_table",
    "sensitivity_at_specificity",
    "shortfall_messages",
    "subgroup_table",
    "survival_metric_table",
    "time_dependent_auc",
    "time_to_ra_evaluation",
    "training_shortfall_notes",
    "tripod_ai_table",
    "uno_c",
    "write_joint_figures",
    "write_report",
]
