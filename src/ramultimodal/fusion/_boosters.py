"""Check a LightGBM text model or an XGBoost JSON model before the library parses it.

Both libraries parse their model files in C++ and trust them: a truncated LightGBM text
aborts the whole Python process (``SIGABRT`` after ``[LightGBM] [Fatal]`` lines, or a
segmentation fault), and an XGBoost tree whose child index points outside the tree crashes
at prediction. A model folder may come from anyone, so its boosters are checked here first,
against the layout that ``Booster.model_to_string`` and ``Booster.save_raw("json")`` write:
every section present, every array as long as its tree says, every split on a feature that
exists, every child inside its tree, every tree a tree (no node reached twice). What these
functions do not know, they refuse; the sha256 in the manifest catches changed numbers.

Each function raises ``ValueError`` with what is wrong; the caller adds the file name.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Sequence

__all__ = ["check_lightgbm_text", "check_xgboost_json"]

# -- LightGBM ------------------------------------------------------------------------------

_HEADER_KEYS = {
    "version", "num_class", "num_tree_per_iteration", "label_index", "max_feature_idx",
    "objective", "feature_names", "feature_infos", "tree_sizes", "monotone_constraints",
}  # fmt: skip
# The objectives a classifier saves, with the number of classes they name (LightGBM sizes
# its buffers by that number: one that disagrees with num_class overflows the heap).
_OBJECTIVE = re.compile(
    r"binary sigmoid:[0-9.e+-]+|multiclass num_class:(\d{1,5})"
    r"|multiclassova num_class:(\d{1,5}) sigmoid:[0-9.e+-]+"
)
# Arrays of a tree with n leaves, by length: n - 1 (internal nodes) or n (leaves).
_INTERNAL = (
    "split_feature", "split_gain", "threshold", "decision_type", "left_child", "right_child",
    "internal_value", "internal_weight", "internal_count",
)  # fmt: skip
_LEAF = ("leaf_value", "leaf_weight", "leaf_count")
_TREE_KEYS = {"num_leaves", "num_cat", *_INTERNAL, *_LEAF, "is_linear", "shrinkage"}
_TRAILER = re.compile(
    r"end of trees\n\nfeature_importances:\n(?:[^\n=]+=\d+\n)*\nparameters:\n"
    r"(?:\[[A-Za-z0-9_]+: [^\n]*\]\n)*\nend of parameters\n\npandas_categorical:([^\n]*)\n?"
)


def _integer(text: str, what: str) -> int:
    if not re.fullmatch(r"-?\d{1,12}", text):
        raise ValueError(f"{what} is {text[:40]!r}, not a whole number")
    return int(text)


def _numbers(text: str, what: str, *, integers: bool = False) -> list[float]:
    values = text.split(" ") if text else []
    if integers:
        return [_integer(value, what) for value in values]
    out = []
    for value in values:
        try:
            number = float(value)
        except ValueError:
            raise ValueError(f"{what} holds {value[:40]!r}, not a number") from None
        if math.isnan(number):
            raise ValueError(f"{what} holds NaN")
        out.append(number)
    return out


def _key_values(lines: Sequence[str], allowed: set[str], what: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in lines:
        key, equals, value = line.partition("=")
        if not equals or key not in allowed:
            raise ValueError(f"{what} has an unexpected line {line[:60]!r}")
        if key in pairs:
            raise ValueError(f"{what} gives {key} twice")
        pairs[key] = value
    return pairs


def _check_tree_shape(left: list[int], right: list[int], n_leaves: int, what: str) -> None:
    """From the root, every internal node and every leaf is reached exactly once."""
    seen_nodes, seen_leaves, stack = set(), set(), [0]
    while stack:
        node = stack.pop()
        if node in seen_nodes:
            raise ValueError(f"{what} reaches node {node} twice: it is not a tree")
        seen_nodes.add(node)
        for child in (left[node], right[node]):
            if child >= 0:
                if child >= len(left):
                    raise ValueError(f"{what} has a child {child} outside the tree")
                stack.append(child)
            else:
                leaf = ~child
                if leaf >= n_leaves or leaf in seen_leaves:
                    raise ValueError(f"{what} has a bad or repeated leaf {leaf}")
                seen_leaves.add(leaf)
    if len(seen_nodes) != len(left) or len(seen_leaves) != n_leaves:
        raise ValueError(f"{what} has nodes or leaves that the root does not reach")


def _check_tree(block: str, index: int, n_features: int) -> None:
    what = f"tree {index}"
    lines = block.rstrip("\n").split("\n")
    if lines[0] != f"Tree={index}":
        raise ValueError(f"{what} does not start with 'Tree={index}'")
    pairs = _key_values(lines[1:], _TREE_KEYS, what)
    if set(pairs) != _TREE_KEYS:
        raise ValueError(f"{what} lacks {sorted(_TREE_KEYS - set(pairs))}")
    n_leaves = _integer(pairs["num_leaves"], f"{what}'s num_leaves")
    if n_leaves < 1:
        raise ValueError(f"{what} has {n_leaves} leaves")
    if _integer(pairs["num_cat"], f"{what}'s num_cat") != 0:
        raise ValueError(f"{what} has categorical splits, which a saved model may not hold")
    if pairs["is_linear"] != "0":
        raise ValueError(f"{what} is a linear tree, which a saved model may not hold")
    _numbers(pairs["shrinkage"], f"{what}'s shrinkage")
    integer_arrays = {"split_feature", "decision_type", "left_child", "right_child"}
    arrays = {
        key: _numbers(pairs[key], f"{what}'s {key}", integers=key in integer_arrays)
        for key in (*_INTERNAL, *_LEAF)
    }
    for key in _INTERNAL:
        if len(arrays[key]) != n_leaves - 1:
            raise ValueError(f"{what}'s {key} has {len(arrays[key])} values, not {n_leaves - 1}")
    for key in _LEAF:
        # A one-leaf tree may leave its weights out.
        if len(arrays[key]) != n_leaves and not (n_leaves == 1 and key != "leaf_value"):
            raise ValueError(f"{what}'s {key} has {len(arrays[key])} values, not {n_leaves}")
    if any(not 0 <= f < n_features for f in arrays["split_feature"]):
        raise ValueError(f"{what} splits on a feature the model does not have")
    # decision_type: bit 0 categorical, bit 1 default left, bits 2-3 missing type (0-2).
    if any(not 0 <= d < 16 or d & 1 or (d >> 2) > 2 for d in arrays["decision_type"]):
        raise ValueError(f"{what} has an unknown decision type")
    if n_leaves > 1:
        _check_tree_shape(arrays["left_child"], arrays["right_child"], n_leaves, what)


def check_lightgbm_text(text: str) -> None:
    """Raise ValueError unless `text` is a complete LightGBM model of the expected layout.

    Examples
    --------
    >>> check_lightgbm_text("tree\\nversion=v4\\n")
    Traceback (most recent call last):
    ...
    ValueError: no tree follows the header
    """
    start = text.find("\nTree=")
    if not text.startswith("tree\n") or start < 0:
        raise ValueError("no tree follows the header")
    header_lines = text[: start + 1].split("\n")[1:]
    if header_lines[-2:] != ["", ""]:
        raise ValueError("the header does not end with a blank line")
    header = _key_values([line for line in header_lines[:-2]], _HEADER_KEYS, "the header")
    required = _HEADER_KEYS - {"monotone_constraints"}
    if not required <= set(header):
        raise ValueError(f"the header lacks {sorted(required - set(header))}")
    if header["version"] != "v4":
        raise ValueError(f"the model text is version {header['version'][:10]!r}, not v4")
    objective = _OBJECTIVE.fullmatch(header["objective"])
    if objective is None:
        raise ValueError(f"unexpected objective {header['objective'][:40]!r}")
    n_class = _integer(header["num_class"], "num_class")
    per_iteration = _integer(header["num_tree_per_iteration"], "num_tree_per_iteration")
    n_features = _integer(header["max_feature_idx"], "max_feature_idx") + 1
    named = int(objective.group(1) or objective.group(2) or 1)
    binary = header["objective"].startswith("binary")
    if n_class != named or binary != (n_class == 1) or not 1 <= n_class < 10_000:
        raise ValueError(
            f"the objective {header['objective'][:40]!r} does not fit num_class={n_class}"
        )
    if per_iteration != n_class or not 1 <= n_features < 10_000_000:
        raise ValueError("num_tree_per_iteration or max_feature_idx is out of range")
    if _integer(header["label_index"], "label_index") != 0:
        raise ValueError("label_index is not 0")
    for key in ("feature_names", "feature_infos"):
        if len(header[key].split(" ")) != n_features:
            raise ValueError(f"{key} does not name {n_features} features")
    sizes = _numbers(header["tree_sizes"], "tree_sizes", integers=True)
    if not sizes or len(sizes) % per_iteration or any(size < 1 for size in sizes):
        raise ValueError("tree_sizes does not list whole iterations of trees")
    position = start + 1
    for index, size in enumerate(sizes):
        block = text[position : position + size]
        if len(block) != size:
            raise ValueError(f"the text ends inside tree {index} (truncated)")
        _check_tree(block, index, n_features)
        position += size
    trailer = _TRAILER.fullmatch(text, position)
    if trailer is None:
        raise ValueError("the trees are not followed by LightGBM's closing sections (truncated?)")
    try:
        categorical = json.loads(trailer.group(1))
    except ValueError:
        raise ValueError("pandas_categorical is not JSON") from None
    if categorical not in (None, []):
        raise ValueError("the model has pandas categorical features, which it may not hold")


# -- XGBoost -------------------------------------------------------------------------------

_XGB_OBJECTIVES = {"binary:logistic", "multi:softprob", "multi:softmax"}
_XGB_NODE_ARRAYS = (
    "base_weights", "default_left", "left_children", "loss_changes", "parents",
    "right_children", "split_conditions", "split_indices", "split_type", "sum_hessian",
)  # fmt: skip
_XGB_ROOT_PARENT = 2147483647


def _whole(value: object, what: str) -> int:
    """A whole number, given as a JSON number or as a decimal string (XGBoost writes both)."""
    if isinstance(value, str) and re.fullmatch(r"\d{1,12}", value):
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise ValueError(f"{what} is {str(value)[:40]!r}, not a whole number")


def _xgb_tree(tree: object, index: int, n_features: int) -> None:
    what = f"tree {index}"
    if not isinstance(tree, dict) or tree.get("id") != index:
        raise ValueError(f"{what} is not a tree with id {index}")
    param = tree.get("tree_param")
    if not isinstance(param, dict):
        raise ValueError(f"{what} has no tree_param")
    n_nodes = _whole(param.get("num_nodes"), f"{what}'s num_nodes")
    if n_nodes < 1 or _whole(param.get("size_leaf_vector"), f"{what}'s size_leaf_vector") > 1:
        raise ValueError(f"{what} has no node, or vector leaves")
    if _whole(param.get("num_deleted"), f"{what}'s num_deleted") != 0:
        raise ValueError(f"{what} has deleted nodes")
    for key in _XGB_NODE_ARRAYS:
        values = tree.get(key)
        if not isinstance(values, list) or len(values) != n_nodes:
            raise ValueError(f"{what}'s {key} is not a list of {n_nodes} values")
        if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            raise ValueError(f"{what}'s {key} holds something other than numbers")
    if any(tree.get(key) for key in ("categories", "categories_nodes", "categories_segments")):
        raise ValueError(f"{what} has categorical splits, which a saved model may not hold")
    left, right = tree["left_children"], tree["right_children"]
    parents, features = tree["parents"], tree["split_indices"]
    if any(t != 0 for t in tree["split_type"]) or any(
        d not in (0, 1) for d in tree["default_left"]
    ):
        raise ValueError(f"{what} has an unknown split type or default direction")
    if parents[0] != _XGB_ROOT_PARENT:
        raise ValueError(f"{what}'s root has a parent")
    seen, stack = {0}, [0]
    while stack:
        node = stack.pop()
        children = (left[node], right[node])
        if children == (-1, -1):
            continue
        if not isinstance(features[node], int) or not 0 <= features[node] < n_features:
            raise ValueError(f"{what} splits on a feature the model does not have")
        for child in children:
            if not isinstance(child, int) or not 0 < child < n_nodes or child in seen:
                raise ValueError(f"{what} has a child outside the tree or reached twice")
            if parents[child] != node:
                raise ValueError(f"{what}'s parents do not match its children")
            seen.add(child)
            stack.append(child)
    if len(seen) != n_nodes:
        raise ValueError(f"{what} has nodes that the root does not reach")


def check_xgboost_json(raw: bytes) -> None:
    """Raise ValueError unless `raw` is an XGBoost JSON tree model of the expected layout.

    Examples
    --------
    >>> check_xgboost_json(b'{"learner": {}}')
    Traceback (most recent call last):
    ...
    ValueError: the model has no gbtree booster
    """
    try:
        document = json.loads(raw)
    except ValueError:
        raise ValueError("it is not JSON (truncated?)") from None
    learner = document.get("learner") if isinstance(document, dict) else None
    if not isinstance(learner, dict):
        raise ValueError("it has no learner")
    booster = learner.get("gradient_booster")
    if not isinstance(booster, dict) or booster.get("name") != "gbtree":
        raise ValueError("the model has no gbtree booster")
    objective = learner.get("objective")
    if not isinstance(objective, dict) or objective.get("name") not in _XGB_OBJECTIVES:
        raise ValueError("the model's objective is not a classification one it may hold")
    param = learner.get("learner_model_param")
    if not isinstance(param, dict):
        raise ValueError("it has no learner_model_param")
    n_features = _whole(param.get("num_feature"), "num_feature")
    n_class = _whole(param.get("num_class"), "num_class")
    if _whole(param.get("num_target"), "num_target") != 1 or not 1 <= n_features < 10_000_000:
        raise ValueError("the model has several targets, or no or too many features")
    model = booster.get("model")
    trees = model.get("trees") if isinstance(model, dict) else None
    if not isinstance(trees, list) or not trees:
        raise ValueError("the model has no trees")
    model_param = model.get("gbtree_model_param")
    if not isinstance(model_param, dict) or _whole(
        model_param.get("num_trees"), "num_trees"
    ) != len(trees):
        raise ValueError("num_trees does not match the trees")
    info, indptr = model.get("tree_info"), model.get("iteration_indptr")
    groups = max(n_class, 1)
    if not isinstance(info, list) or len(info) != len(trees):
        raise ValueError("tree_info does not list every tree")
    if not all(isinstance(g, int) and 0 <= g < groups for g in info):
        raise ValueError("tree_info names a class the model does not have")
    if (
        not isinstance(indptr, list)
        or not indptr
        or indptr[0] != 0
        or indptr[-1] != len(trees)
        or not all(isinstance(a, int) for a in indptr)
        or any(a > b for a, b in itertools.pairwise(indptr))
    ):
        raise ValueError("iteration_indptr does not split the trees into iterations")
    for index, tree in enumerate(trees):
        _xgb_tree(tree, index, n_features)
    _xgb_attributes(learner.get("attributes", {}), len(indptr) - 1)


def _xgb_attributes(attributes: object, n_iterations: int) -> None:
    """Early stopping's attributes, the only ones a classifier's booster holds: the
    scikit-learn wrapper predicts with the trees up to ``best_iteration``."""
    if not isinstance(attributes, dict) or set(attributes) - {"best_iteration", "best_score"}:
        raise ValueError("its attributes are other than best_iteration and best_score")
    if "best_iteration" in attributes:
        best = _whole(attributes["best_iteration"], "best_iteration")
        if best >= n_iterations:
            raise ValueError(f"best_iteration {best} is past the last of {n_iterations} rounds")
    if "best_score" in attributes:
        try:
            float(attributes["best_score"])
        except (TypeError, ValueError):
            raise ValueError("best_score is not a number") from None
