"""The radiograph with each joint the locator found drawn on it, and the ones it did not.

`plot_joints_on_radiograph` shows the image as `ramultimodal.io.read_image` reads it (bone
bright), a marker at each found joint with its name and the locator's confidence, and lists
beside it the joints not found, so that a reader checks the places before the grades.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ramultimodal.evaluation._hand_diagram import check_scores
from ramultimodal.terminology.joints import JOINT_NAMES, JOINTS

__all__ = ["plot_joints_on_radiograph", "save_figure"]

# The image is shown at most this many pixels on its long side: enough to see a joint.
_DISPLAY_SIZE = 1024


def radiograph_pixels(image: Any) -> tuple[np.ndarray, tuple[int, int], str | None]:
    """Display pixels, the stored shape the joints' coordinates refer to, and the side."""
    if isinstance(image, np.ndarray):
        if image.ndim != 2:
            raise ValueError(f"image must be a 2-D array or a file, got shape {image.shape}.")
        return image.astype(np.float32), image.shape, None
    from ramultimodal.io import read_image

    pixels, meta = read_image(image, target_size=_DISPLAY_SIZE)
    side = meta.laterality if meta.laterality in ("L", "R") else None
    return pixels, tuple(meta.original_shape), side


def plot_joints_on_radiograph(
    image: str | os.PathLike[str] | np.ndarray,
    scores: pd.DataFrame,
    *,
    title: str | None = None,
) -> Figure:
    """One radiograph with its found joints marked, named and their confidence given.

    Parameters
    ----------
    image : path-like or 2-D array
        The radiograph (any format `ramultimodal.io.read_image` reads).
    scores : DataFrame
        The rows of `JointScoreTransformer.score_images` for this image (one
        ``image_id``): ``x``, ``y`` are the file's pixels, as the model returns them.
    title : str, optional

    Returns
    -------
    Figure
        800 x 600 pixels at 100 dpi: the image with a cross and "MCP2 0.97" (name,
        confidence) at each found joint, the expected grades of the found joints (± their
        SD when `scores` has ``erosion_sd`` and ``narrowing_sd``) and the list of joints
        not found beside it.

    Raises
    ------
    ValueError, TypeError
        For a table that is not `score_images`' or holds several images;
        `ramultimodal.io.ImageReadError` for a file that cannot be read.

    Examples
    --------
    >>> from ramultimodal.terminology.joints import JOINTS
    >>> scores = pd.DataFrame({"image_id": "a", "joint": JOINTS, "found": False,
    ...                        "x": np.nan, "y": np.nan, "confidence": 0.1,
    ...                        "erosion": np.nan, "narrowing": np.nan})
    >>> scores.loc[2, ["found", "x", "y", "confidence"]] = True, 20.0, 30.0, 0.95
    >>> figure = plot_joints_on_radiograph(np.zeros((64, 48)), scores)
    >>> [int(v) for v in figure.get_size_inches() * figure.dpi]
    [800, 600]
    """
    scores = check_scores(scores)
    if scores["image_id"].nunique() != 1:
        raise ValueError(
            f"scores holds {scores['image_id'].nunique()} images; pass the rows of one "
            "image (scores[scores['image_id'] == ...])."
        )
    return draw_joints(radiograph_pixels(image)[:2], scores, title)


def draw_joints(image: tuple[np.ndarray, tuple[int, int]], scores: pd.DataFrame, title):
    """`plot_joints_on_radiograph` on pixels already read: (pixels, stored shape)."""
    pixels, (rows, columns) = image
    figure = Figure(figsize=(8.0, 6.0), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    picture, notes = figure.subplots(1, 2, width_ratios=(3, 1.4))
    # Extent in the stored pixels, so a reduced decode still lines up with x and y.
    picture.imshow(pixels, cmap="gray", vmin=0.0, vmax=1.0, interpolation="bilinear",
                   extent=(-0.5, columns - 0.5, rows - 0.5, -0.5))  # fmt: skip
    picture.set_xticks([])
    picture.set_yticks([])
    order = {joint: n for n, joint in enumerate(JOINTS)}
    table = scores.sort_values("joint", key=lambda s: s.map(order))
    found = table[table["found"].astype(bool)]
    picture.scatter(found["x"], found["y"], marker="+", s=60, linewidths=1.4, color="#00e5ff")
    # Labels point away from the hand's middle, so that neighbouring fingers' labels do not
    # run into each other.
    middle = float(found["x"].median()) if len(found) else 0.0
    for row in found.itertuples():
        dx = 0.012 * columns * (1 if row.x >= middle else -1)
        picture.annotate(
            f"{JOINT_NAMES[row.joint]} {row.confidence:.2f}",
            (row.x, row.y),
            (row.x + dx, row.y),
            fontsize=6.5,
            color="#ffff66",
            ha="left" if dx > 0 else "right",
            va="center",
        )
    if len(found) >= 3:
        # Zoom on the hand, so that neighbouring joints' labels can be read.
        low, high = found[["x", "y"]].min().to_numpy(), found[["x", "y"]].max().to_numpy()
        margin = 0.2 * float(max(high - low)) + 0.03 * max(rows, columns)
        picture.set_xlim(max(-0.5, low[0] - margin), min(columns - 0.5, high[0] + margin))
        picture.set_ylim(min(rows - 0.5, high[1] + margin), max(-0.5, low[1] - margin))
    picture.set_title(title or "Joints found", fontsize=10)
    notes.axis("off")
    lines = [f"found {len(found)} of {len(table)} joints", ""]
    if len(found):
        lines += ["expected grade (± SD)", "joint          erosion   narrowing"]
        lines += [
            f"{JOINT_NAMES[joint]:<14}{_grade(row, 'erosion'):>9}{_grade(row, 'narrowing'):>11}"
            for joint, (_, row) in zip(found["joint"], found.iterrows(), strict=True)
        ]
    missing = table[~table["found"].astype(bool)]
    if len(missing):
        lines += ["", "not found:"]
        lines += [f"  {JOINT_NAMES[j]}" for j in missing["joint"]]
    notes.text(0.0, 1.0, "\n".join(lines), va="top", ha="left", family="monospace",
               fontsize=7, transform=notes.transAxes)  # fmt: skip
    return figure


def _grade(row: pd.Series, kind: str) -> str:
    """'1.2±0.4', or '1.2' when the table has no SD."""
    sd = row.get(f"{kind}_sd", np.nan)
    return f"{row[kind]:.1f}" + (f"±{sd:.1f}" if np.isfinite(sd) else "")


def save_figure(figure: Figure, path: str | os.PathLike[str]) -> Path:
    """Write a figure as PNG at its own size and dpi (no cropping), whole or not at all.

    Examples
    --------
    >>> import tempfile
    >>> from matplotlib.figure import Figure
    >>> png = save_figure(Figure(figsize=(2, 1), dpi=100), tempfile.mkdtemp() + "/f.png")
    >>> from PIL import Image
    >>> Image.open(png).size
    (200, 100)
    """
    from ramultimodal._staging import atomic_file

    path = Path(path)
    with atomic_file(path) as partial:
        figure.savefig(partial, format="png", dpi=figure.dpi)
    return path
