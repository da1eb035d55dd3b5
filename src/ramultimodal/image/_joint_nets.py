"""The two small networks of the joint models: a heatmap keypoint net and an ordinal grader.

`HeatmapNet` is a small U-Net: an encoder down to 1/16 of the input for context (which
finger is which), a decoder back to 1/4 with skip connections, one heatmap per joint. A
spatial softmax of a heatmap is the joint's position as a distribution; its mean
(soft-argmax, "DSNT", Nibali et al. 2018) gives sub-cell coordinates, and a separate
presence head says whether the joint is in the image at all. `GradeNet` reads a crop around
one joint with an embedding of which joint it is, and gives cumulative logits (CORAL, Cao et
al. 2020) for erosion (0-5) and narrowing (0-4): one shared score per grade scale, plus a
threshold per grade, so the predicted probabilities are ordered by construction.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["GradeNet", "HeatmapNet", "soft_argmax"]


def _block(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


class HeatmapNet(nn.Module):
    """Input ``(B, 1, S, S)`` -> heatmap logits ``(B, J, S/4, S/4)``, presence logits ``(B, J)``."""

    def __init__(self, n_joints: int, width: int = 16) -> None:
        super().__init__()
        w = width
        self.stem = _block(1, w, stride=2)  # 1/2
        self.down1 = _block(w, 2 * w, stride=2)  # 1/4
        self.down2 = _block(2 * w, 3 * w, stride=2)  # 1/8
        self.down3 = _block(3 * w, 4 * w, stride=2)  # 1/16
        self.up2 = _block(4 * w + 3 * w, 3 * w)
        self.up1 = _block(3 * w + 2 * w, 2 * w)
        self.heatmaps = nn.Conv2d(2 * w, n_joints, 1)
        self.presence = nn.Linear(2 * 4 * w, n_joints)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s1 = self.down1(self.stem(x))
        s2 = self.down2(s1)
        s3 = self.down3(s2)
        pooled = torch.cat([s3.mean((2, 3)), s3.amax((2, 3))], dim=1)
        u = F.interpolate(s3, size=s2.shape[-2:], mode="bilinear", align_corners=False)
        u = self.up2(torch.cat([u, s2], dim=1))
        u = F.interpolate(u, size=s1.shape[-2:], mode="bilinear", align_corners=False)
        u = self.up1(torch.cat([u, s1], dim=1))
        return self.heatmaps(u), self.presence(pooled)


def soft_argmax(logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Mean position (x, y in heatmap cells, cell centres at integers) and spread (cells).

    Parameters
    ----------
    logits : Tensor, shape (B, J, H, W)

    Returns
    -------
    xy : Tensor, shape (B, J, 2)
    spread : Tensor, shape (B, J)
        The standard deviation of the distribution, a sharp peak is below one cell.
    probabilities : Tensor, shape (B, J, H, W)
    """
    b, j, h, w = logits.shape
    p = torch.softmax(logits.reshape(b, j, h * w), dim=-1).reshape(b, j, h, w)
    xs = torch.arange(w, dtype=p.dtype, device=p.device)
    ys = torch.arange(h, dtype=p.dtype, device=p.device)
    px, py = p.sum(2), p.sum(3)
    mx, my = (px * xs).sum(-1), (py * ys).sum(-1)
    vx = (px * (xs - mx[..., None]) ** 2).sum(-1)
    vy = (py * (ys - my[..., None]) ** 2).sum(-1)
    return torch.stack([mx, my], -1), torch.sqrt(vx + vy + 1e-12), p


class GradeNet(nn.Module):
    """A joint crop ``(B, 1, C, C)`` and joint index ``(B,)`` -> CORAL logits per scale.

    Returns erosion logits ``(B, 5)`` (P(grade > k), k = 0..4) and narrowing logits
    ``(B, 4)``.
    """

    def __init__(self, n_joints: int, n_erosion: int = 5, n_narrowing: int = 4, width: int = 16):
        super().__init__()
        w = width
        self.features = nn.Sequential(
            _block(1, w),
            nn.MaxPool2d(2),
            _block(w, 2 * w),
            nn.MaxPool2d(2),
            _block(2 * w, 4 * w),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )
        self.joint = nn.Embedding(n_joints, 4 * w)
        self.hidden = nn.Sequential(nn.Linear(8 * w, 4 * w), nn.ReLU(inplace=True))
        self.erosion_score = nn.Linear(4 * w, 1)
        self.narrowing_score = nn.Linear(4 * w, 1)
        # CORAL: one score, thresholds per joint (a grade 1 at the wrist is not one at PIP5),
        # kept decreasing (`_ordered`) so that P(grade > k) falls with k.
        self.erosion_bias = nn.Embedding(n_joints, n_erosion)
        self.narrowing_bias = nn.Embedding(n_joints, n_narrowing)
        with torch.no_grad():  # start high (most joints are undamaged), a grade apart
            for bias in (self.erosion_bias, self.narrowing_bias):
                bias.weight.fill_(0.5)
                bias.weight[:, 0] = -2.0

    def forward(self, crops: torch.Tensor, joints: torch.Tensor):
        h = self.hidden(torch.cat([self.features(crops), self.joint(joints)], dim=1))
        erosion = self.erosion_score(h) + _ordered(self.erosion_bias(joints))
        narrowing = self.narrowing_score(h) + _ordered(self.narrowing_bias(joints))
        return erosion, narrowing


def _ordered(raw: torch.Tensor) -> torch.Tensor:
    """Decreasing thresholds: the first, then steps down by softplus of the others."""
    steps = F.softplus(raw[:, 1:])
    return torch.cat([raw[:, :1], raw[:, :1] - torch.cumsum(steps, dim=1)], dim=1)


class RefineNet(nn.Module):
    """A crop ``(B, 1, C, C)`` around a coarse joint position and the joint's index ``(B,)``
    -> that joint's heatmap logits ``(B, C/2, C/2)``.

    The second, local stage of the locator: it sees the joint at the file's own resolution,
    where the coarse heatmap saw it at a fraction of it. Two coordinate channels are added to
    the crop (CoordConv, Liu et al. 2018) so that the network knows where the crop's centre
    is, which tells the joint asked for from its neighbours in the same crop.
    """

    def __init__(self, n_joints: int, width: int = 8) -> None:
        super().__init__()
        w = width
        self.stem = _block(3, w)  # 1
        self.down1 = _block(w, 2 * w, stride=2)  # 1/2
        self.down2 = _block(2 * w, 4 * w, stride=2)  # 1/4
        self.down3 = _block(4 * w, 4 * w, stride=2)  # 1/8
        self.up2 = _block(8 * w, 4 * w)
        self.up1 = _block(4 * w + 2 * w, 2 * w)
        self.heatmaps = nn.Conv2d(2 * w, n_joints, 1)

    def forward(self, crops: torch.Tensor, joints: torch.Tensor) -> torch.Tensor:
        b, _, h, w = crops.shape
        ys = torch.linspace(-1.0, 1.0, h, dtype=crops.dtype, device=crops.device)
        xs = torch.linspace(-1.0, 1.0, w, dtype=crops.dtype, device=crops.device)
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij"))[None].expand(b, 2, h, w)
        s1 = self.down1(self.stem(torch.cat([crops, grid], dim=1)))
        s2 = self.down2(s1)
        s3 = self.down3(s2)
        u = F.interpolate(s3, size=s2.shape[-2:], mode="bilinear", align_corners=False)
        u = self.up2(torch.cat([u, s2], dim=1))
        u = F.interpolate(u, size=s1.shape[-2:], mode="bilinear", align_corners=False)
        u = self.up1(torch.cat([u, s1], dim=1))
        maps = self.heatmaps(u)
        return maps[torch.arange(b, device=maps.device), joints]
