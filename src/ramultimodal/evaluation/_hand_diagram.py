"""A patient's hands as a reader draws them: each joint coloured by its predicted grade.

`plot_hand_diagram` draws both hands schematically, erosion above and narrowing below, each
Sharp/van der Heijde joint (`ramultimodal.terminology.joints`) a disc coloured by the
expected grade `JointScoreTransformer.score_images` gave it, the number in the disc; beside
it, in brackets, the true grade when one is known (synthetic data). A joint the locator did
not find is an empty dashed circle marked "n.f.", never a grade of 0; a hand without a
radiograph is drawn grey with a note. Which hand an image shows comes, in this order, from
the caller, from a ``laterality`` column, or from the image itself (`hand_sides`, shared
with the fusion's per-hand joint features in ``image/_hand_sides.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import Normalize
from matplotlib.figure import Figure

from ramultimodal.image._hand_sides import hand_sides
from ramultimodal.terminology.joints import (
    EROSION_JOINTS,
    EROSION_MAX,
    HAND_SIDES,
    JOINTS,
    NARROWING_JOINTS,
    NARROWING_MAX,
)

__all__ = ["hand_sides", "plot_hand_diagram"]

#: Columns of `JointScoreTransformer.score_images` the figures read.
SCORE_COLUMNS = ("image_id", "joint", "found", "x", "y", "confidence", "erosion", "narrowing")

# Where each joint sits on the schematic right hand, as its radiograph shows it (fingers up,
# thumb on the left), in a unit square with y upwards; the left hand is its mirror image.
# A drawing layout, not anatomy to measure with.
_LAYOUT: dict[str, tuple[float, float]] = {
    "wrist": (0.50, 0.14), "ulnar_styloid": (0.71, 0.08), "cmc1": (0.34, 0.22),
    "mcp1": (0.22, 0.36), "ip1": (0.12, 0.50),
    "mcp2": (0.36, 0.50), "mcp3": (0.48, 0.52), "mcp4": (0.60, 0.50), "mcp5": (0.71, 0.45),
    "pip2": (0.32, 0.68), "pip3": (0.47, 0.71), "pip4": (0.62, 0.68), "pip5": (0.77, 0.60),
    "dip2": (0.30, 0.80), "dip3": (0.465, 0.84), "dip4": (0.635, 0.80), "dip5": (0.80, 0.71),
}  # fmt: skip
# The bones between them, as polylines through joints and a few fixed points.
_TIPS = {"1": (0.06, 0.58), "2": (0.29, 0.89), "3": (0.46, 0.94), "4": (0.645, 0.89),
         "5": (0.82, 0.78)}  # fmt: skip
_BONES: tuple[tuple[Any, ...], ...] = (
    ((0.44, -0.02), "wrist"),
    ((0.66, -0.02), "ulnar_styloid"),
    ("wrist", "cmc1", "mcp1", "ip1", _TIPS["1"]),
    *(("wrist", (0.36 + 0.075 * k, 0.25), f"mcp{k + 2}", f"pip{k + 2}", f"dip{k + 2}",
       _TIPS[str(k + 2)]) for k in range(4)),
)  # fmt: skip
_SIDE_NAMES = {code: f"{word} hand" for code, word in HAND_SIDES.items()}
_SCALES = (
    ("erosion", EROSION_MAX, EROSION_JOINTS),
    ("narrowing", NARROWING_MAX, NARROWING_JOINTS),
)


def check_scores(scores: Any, what: str = "scores") -> pd.DataFrame:
    """`scores` as a DataFrame of known joints with `SCORE_COLUMNS`, or one clear error."""
    if not isinstance(scores, pd.DataFrame):
        raise TypeError(
            f"{what} must be a DataFrame as JointScoreTransformer.score_images returns, got "
            f"{type(scores).__name__}."
        )
    missing = [column for column in SCORE_COLUMNS if column not in scores.columns]
    if missing:
        raise ValueError(
            f"{what} lacks column(s) {missing}: pass the table JointScoreTransformer."
            "score_images returns (or 'ramultimodal joints predict' writes)."
        )
    unknown = sorted(set(scores["joint"].astype(str)) - set(JOINTS))
    if unknown:
        raise ValueError(f"{what} has unknown joint(s) {unknown}; the joints are {list(JOINTS)}.")
    return scores.assign(image_id=scores["image_id"].astype(str))


def _per_hand(
    scores: pd.DataFrame, truth: pd.DataFrame | None, sides: dict[str, tuple[str | None, str]]
) -> dict[str, dict[str, Any]]:
    """Per side: the worst predicted grade per joint, found or not, truth, images seen."""
    hands: dict[str, dict[str, Any]] = {}
    for side in _SIDE_NAMES:
        images = [image for image, (s, _) in sides.items() if s == side]
        if not images:
            continue
        rows = scores[scores["image_id"].isin(images)]
        found = rows.groupby("joint")["found"].any()
        # Two radiographs of one hand (a follow-up): the worse grade, as the transformer.
        worst = rows[rows["found"].astype(bool)].groupby("joint")[["erosion", "narrowing"]]
        hand = {
            "images": images,
            "sources": sorted({sides[image][1] for image in images}),
            "found": found.to_dict(),
            "predicted": worst.max(),
            "truth": None,
        }
        if truth is not None:
            true_rows = truth[truth["image_id"].isin(images)]
            if not true_rows.empty:
                hand["truth"] = true_rows.groupby("joint")[["erosion", "narrowing"]].max()
        hands[side] = hand
    return hands


def _draw_hand(axes, side: str, hand: dict[str, Any] | None, kind: str, top: int,
               counted: tuple[str, ...], colours, unsided: int) -> None:  # fmt: skip
    mirror = (lambda x: 1.0 - x) if side == "L" else (lambda x: x)

    def place(point: Any) -> tuple[float, float]:
        x, y = _LAYOUT[point] if isinstance(point, str) else point
        return mirror(x), y

    for bone in _BONES:
        xs, ys = zip(*(place(p) for p in bone), strict=True)
        axes.plot(xs, ys, color="#d9d9d9" if hand else "#eeeeee", linewidth=7,
                  solid_capstyle="round", zorder=1)  # fmt: skip
    axes.set_xlim(-0.04, 1.04)
    axes.set_ylim(-0.05, 1.0)
    axes.set_aspect("equal")
    axes.set_xticks([])
    axes.set_yticks([])
    for spine in axes.spines.values():
        spine.set_visible(False)
    name = _SIDE_NAMES[side]
    if hand is None:
        words = "no radiograph" if not unsided else "no radiograph known to show it"
        axes.set_title(f"{name}: {words}", fontsize=9, color="#777777")
        return
    predicted, truth = hand["predicted"], hand["truth"]
    norm = Normalize(0, top)
    for joint in JOINTS:
        x, y = place(joint)
        in_total = joint in counted
        radius = 0.038 if in_total else 0.028
        style = "-" if in_total else ":"
        if not hand["found"].get(joint, False):
            axes.add_patch(_circle((x, y), radius, "white", "#888888", "--"))
            axes.text(x, y, "n.f.", ha="center", va="center", fontsize=5.5, color="#666666",
                      zorder=4)  # fmt: skip
        else:
            value = float(predicted.loc[joint, kind])
            axes.add_patch(_circle((x, y), radius, colours(norm(value)), "#333333", style))
            ink = "white" if norm(value) > 0.55 else "black"
            axes.text(x, y, f"{value:.1f}", ha="center", va="center", zorder=4,
                      fontsize=6 if in_total else 5, color=ink)  # fmt: skip
        if truth is not None and joint in truth.index and truth[kind].notna().get(joint):
            # The true grade on the little finger's side of the disc, away from the thumb.
            dx = (radius + 0.012) * (1 if side == "R" else -1)
            axes.text(x + dx, y + radius * 0.6, f"[{int(truth.loc[joint, kind])}]",
                      ha="left" if side == "R" else "right", va="center", fontsize=6,
                      color="#1f4e9c", zorder=4)  # fmt: skip
    total = _hand_total(predicted, hand["found"], counted, kind)
    words = f"{name}: SvdH {kind} " + (f"{total:.1f}" if total == total else "-")
    if truth is not None:
        true_total = truth.loc[truth.index.intersection(counted), kind].sum(min_count=1)
        words += f" (true {true_total:.0f})" if true_total == true_total else " (true: not graded)"
    if hand["sources"] != ["given"] and hand["sources"] != ["laterality column"]:
        words += "\nside read from the thumb's place"
    if len(hand["images"]) > 1:
        words += f"\n{len(hand['images'])} radiographs: the worse grade"
    axes.set_title(words, fontsize=8.5)


def _circle(centre, radius, face, edge, style):
    from matplotlib.patches import Circle

    return Circle(centre, radius, facecolor=face, edgecolor=edge, linestyle=style,
                  linewidth=0.9, zorder=3)  # fmt: skip


def _hand_total(predicted: pd.DataFrame, found: dict, counted: tuple[str, ...], kind: str):
    joints = [j for j in counted if found.get(j, False) and j in predicted.index]
    return float(predicted.loc[joints, kind].sum()) if joints else float("nan")


def plot_hand_diagram(
    scores: pd.DataFrame,
    truth: pd.DataFrame | None = None,
    *,
    sides: Mapping[str, str] | None = None,
    title: str | None = None,
) -> Figure:
    """Both hands of one patient, each joint coloured by its predicted erosion and narrowing.

    Parameters
    ----------
    scores : DataFrame
        The rows of `JointScoreTransformer.score_images` for one patient's radiographs
        (one or both hands; two of one hand show the worse grade of each joint).
    truth : DataFrame, optional
        The true grades (``joints.csv`` of a synthetic cohort: ``image_id``, ``joint``,
        ``erosion``, ``narrowing``, and ``laterality``, which then says which hand an
        image is), drawn in brackets beside each joint.
    sides : mapping of image id to "L" or "R", optional
        Which hand each image shows; otherwise a ``laterality`` column of `scores` or
        `truth`, else the thumb's side on the image (see `hand_sides`).
    title : str, optional
        Above the figure (say which patient, by number rather than identifier).

    Returns
    -------
    Figure
        800 x 760 pixels at 100 dpi: erosion (0-5) above, narrowing (0-4) below, the right
        hand on the left as the patient faces the reader. Each disc holds the expected
        grade; dotted, smaller discs are graded joints outside the SvdH total (the DIPs;
        IP1, CMC1 and the ulnar styloid for narrowing); "n.f." marks a joint not found.

    Raises
    ------
    ValueError, TypeError
        For a table that is not `score_images`' (missing columns, unknown joints), or a
        laterality other than L or R.

    Examples
    --------
    >>> import numpy as np
    >>> from ramultimodal.terminology.joints import JOINTS
    >>> scores = pd.DataFrame({"image_id": "a", "joint": JOINTS, "found": True,
    ...                        "x": np.arange(17.0), "y": 1.0, "confidence": 0.9,
    ...                        "erosion": 0.2, "narrowing": 1.5, "laterality": "R"})
    >>> figure = plot_hand_diagram(scores, title="patient 1")
    >>> [int(v) for v in figure.get_size_inches() * figure.dpi]
    [800, 760]
    """
    scores = check_scores(scores)
    if truth is not None:
        truth = _check_truth(truth)
    if not len(scores):
        raise ValueError("scores is empty: no radiograph to draw the hands of.")
    if sides is None and "laterality" not in scores.columns and truth is not None:
        if "laterality" in truth.columns:
            sides = truth.groupby("image_id")["laterality"].first().to_dict()
    known = hand_sides(scores, sides)
    hands = _per_hand(scores, truth, known)
    unsided = [image for image, (side, _) in known.items() if side is None]
    figure = Figure(figsize=(8.0, 7.6), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    grid = figure.subplots(2, 2)
    for row, (kind, top, counted) in enumerate(_SCALES):
        colours = matplotlib.colormaps["YlOrRd"]
        for column, side in enumerate(("R", "L")):
            _draw_hand(grid[row, column], side, hands.get(side), kind, top, counted, colours,
                       len(unsided))  # fmt: skip
        mappable = matplotlib.cm.ScalarMappable(Normalize(0, top), colours)
        bar = figure.colorbar(mappable, ax=grid[row, :], shrink=0.8, pad=0.01)
        bar.set_label(f"expected {kind} grade (0-{top})", fontsize=8)
    notes = []
    if truth is not None:
        notes.append("[n]: true grade")
    notes.append("n.f.: not found")
    notes.append("dotted: not in the SvdH total")
    if unsided:
        found = scores[scores["image_id"].isin(unsided)].groupby("image_id")["found"].sum()
        few = "no joint found" if found.max() == 0 else "too few joints found to tell"
        notes.append(f"{len(unsided)} radiograph(s) not drawn: which hand is not known "
                     f"({few})")  # fmt: skip
    figure.suptitle(title or "Joint by joint", fontsize=11)
    figure.supxlabel("; ".join(notes), fontsize=8, color="#444444")
    return figure


def _check_truth(truth: Any) -> pd.DataFrame:
    if not isinstance(truth, pd.DataFrame):
        raise TypeError(f"truth must be a DataFrame (joints.csv), got {type(truth).__name__}.")
    missing = [c for c in ("image_id", "joint", "erosion", "narrowing") if c not in truth]
    if missing:
        raise ValueError(f"truth lacks column(s) {missing}: pass a joints.csv table.")
    return truth.assign(image_id=truth["image_id"].astype(str))
