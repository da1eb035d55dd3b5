"""The clinical rules pass scikit-learn's estimator checks where those can apply."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from ramultimodal.ehr import ACREULARClassifier, LeidenRuleClassifier

# Every check below feeds numpy arrays of arbitrary width; the rules need named columns
# (which finding is RF, which is CRP), so these cannot apply. The same properties are
# tested on DataFrames in test_ehr_acr_eular.py and test_ehr_leiden.py.
_NEEDS_NAMED_COLUMNS = "the rules need named DataFrame columns; the check passes arrays"
EXPECTED_FAILED_CHECKS = {
    name: _NEEDS_NAMED_COLUMNS
    for name in [
        "check_classifier_data_not_an_array", "check_classifiers_classes",
        "check_classifiers_train", "check_decision_proba_consistency", "check_dict_unchanged",
        "check_dont_overwrite_parameters", "check_dtype_object", "check_estimators_dtypes",
        "check_estimators_empty_data_messages", "check_estimators_fit_returns_self",
        "check_estimators_overwrite_params", "check_estimators_pickle",
        "check_f_contiguous_array_estimator", "check_fit1d", "check_fit2d_1feature",
        "check_fit2d_1sample", "check_fit2d_predict1d", "check_fit_check_is_fitted",
        "check_fit_idempotent", "check_fit_score_takes_y",
        "check_methods_sample_order_invariance", "check_methods_subset_invariance",
        "check_n_features_in", "check_n_features_in_after_fitting",
        "check_pipeline_consistency", "check_positive_only_tag_during_fit",
        "check_readonly_memmap_input", "check_supervised_y_2d",
    ]
}  # fmt: skip


@parametrize_with_checks(
    [ACREULARClassifier(), LeidenRuleClassifier()],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_scikit_learn_checks(estimator, check):
    check(estimator)
