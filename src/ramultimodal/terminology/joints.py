"""The joints of a hand radiograph, and which of them the Sharp/van der Heijde score reads.

The Sharp/van der Heijde (SvdH) score (CLINICAL.md, "Joint-level radiograph scoring") reads
a posteroanterior hand radiograph joint by joint: per hand 16 erosion areas graded 0-5 and
15 joint-space-narrowing areas graded 0-4. `SVDH_EROSION_AREAS` and
`SVDH_NARROWING_AREAS` list them as the method names them.

The synthetic generator and the joint models work with `JOINTS`, the 17 places a reader
points at on a hand: the finger joints one by one, the thumb's carpometacarpal joint, the
wrist as one area (the carpus and radiocarpal joint together) and the ulnar styloid (the
distal ulna's erosion area). `EROSION_JOINTS` and `NARROWING_JOINTS` are the ones of them
that count in the SvdH totals, `SVDH_MAX` their highest sums per hand. The DIP joints are
located and graded (osteoarthritis and psoriatic arthritis show there) but SvdH leaves them
out. Because the wrist is one area here where SvdH reads five erosion and six narrowing
areas, the totals are on a smaller scale than the published maximum (160 erosion, 120
narrowing for both hands): compare them with each other, not with published SvdH values.
"""

from __future__ import annotations

__all__ = [
    "EROSION_JOINTS",
    "EROSION_MAX",
    "HAND_SIDES",
    "JOINTS",
    "JOINT_FAMILIES",
    "JOINT_NAMES",
    "NARROWING_JOINTS",
    "NARROWING_MAX",
    "SVDH_EROSION_AREAS",
    "SVDH_MAX",
    "SVDH_NARROWING_AREAS",
    "joint_family",
]

#: The joints located and graded on one hand, in the generator's order (its random draws
#: are indexed by this order: never reorder).
JOINTS: tuple[str, ...] = (
    "cmc1", "mcp1", "mcp2", "mcp3", "mcp4", "mcp5", "ip1", "pip2", "pip3", "pip4", "pip5",
    "dip2", "dip3", "dip4", "dip5", "wrist", "ulnar_styloid",
)  # fmt: skip

#: Readable names, for tables and pictures.
JOINT_NAMES: dict[str, str] = {
    "cmc1": "CMC1", "mcp1": "MCP1", "mcp2": "MCP2", "mcp3": "MCP3", "mcp4": "MCP4",
    "mcp5": "MCP5", "ip1": "IP1", "pip2": "PIP2", "pip3": "PIP3", "pip4": "PIP4",
    "pip5": "PIP5", "dip2": "DIP2", "dip3": "DIP3", "dip4": "DIP4", "dip5": "DIP5",
    "wrist": "wrist", "ulnar_styloid": "ulnar styloid",
}  # fmt: skip

#: Joint families: joints of a family look alike, so a model may share what it learns.
JOINT_FAMILIES: tuple[str, ...] = ("mcp", "pip", "ip", "dip", "cmc", "wrist", "ulna")

#: Highest erosion and narrowing grades per joint (SvdH hands).
EROSION_MAX, NARROWING_MAX = 5, 4

#: SvdH erosion areas of one hand (van der Heijde, J Rheumatol 2000): 16, graded 0-5.
SVDH_EROSION_AREAS: tuple[str, ...] = (
    "MCP1", "MCP2", "MCP3", "MCP4", "MCP5", "IP1", "PIP2", "PIP3", "PIP4", "PIP5", "CMC1",
    "trapezium", "scaphoid", "lunate", "distal radius", "distal ulna",
)  # fmt: skip

#: SvdH joint-space-narrowing areas of one hand: 15, graded 0-4 (4: ankylosis).
SVDH_NARROWING_AREAS: tuple[str, ...] = (
    "MCP1", "MCP2", "MCP3", "MCP4", "MCP5", "PIP2", "PIP3", "PIP4", "PIP5", "CMC3", "CMC4",
    "CMC5", "scaphoid-trapezium", "scaphoid-capitate-lunate", "radiocarpal",
)  # fmt: skip

#: Which of `JOINTS` count in the SvdH erosion total: the MCPs, IP1, PIPs, CMC1, the wrist
#: (standing for its carpal and distal-radius areas) and the ulnar styloid (distal ulna).
EROSION_JOINTS: tuple[str, ...] = (
    "mcp1", "mcp2", "mcp3", "mcp4", "mcp5", "ip1", "pip2", "pip3", "pip4", "pip5", "cmc1",
    "wrist", "ulnar_styloid",
)  # fmt: skip

#: Which of `JOINTS` count in the SvdH narrowing total: the MCPs, PIPs and the wrist
#: (standing for its CMC3-5, intercarpal and radiocarpal areas); IP1 is not read for
#: narrowing.
NARROWING_JOINTS: tuple[str, ...] = (
    "mcp1", "mcp2", "mcp3", "mcp4", "mcp5", "pip2", "pip3", "pip4", "pip5", "wrist",
)  # fmt: skip

#: Highest totals of one hand with these joints: erosion, narrowing.
SVDH_MAX: dict[str, int] = {
    "erosion": EROSION_MAX * len(EROSION_JOINTS),
    "narrowing": NARROWING_MAX * len(NARROWING_JOINTS),
}


#: The sides a hand radiograph shows (DICOM Image Laterality's codes) and the word for each,
#: as the per-hand joint features end (``erosion_mcp2_right``) and the explanations say it.
HAND_SIDES: dict[str, str] = {"R": "right", "L": "left"}


def joint_family(joint: str) -> str:
    """The family of one of `JOINTS`.

    Parameters
    ----------
    joint : str
        One of `JOINTS`.

    Returns
    -------
    str
        One of `JOINT_FAMILIES`.

    Raises
    ------
    ValueError
        For a name not in `JOINTS`.

    Examples
    --------
    >>> joint_family("mcp2"), joint_family("ulnar_styloid"), joint_family("ip1")
    ('mcp', 'ulna', 'ip')
    """
    if joint not in JOINTS:
        raise ValueError(f"Unknown joint {joint!r}; use one of {list(JOINTS)}.")
    if joint == "ulnar_styloid":
        return "ulna"
    return joint.rstrip("12345")
