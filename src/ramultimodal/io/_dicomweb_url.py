"""DICOMweb addresses as a cohort names them: ``dicomweb://`` and ``dicomwebs://`` URLs.

A radiograph on a PACS is named by its DICOMweb root and its three UIDs::

    dicomweb://HOST:PORT/ROOT/studies/STUDY/series/SERIES/instances/SOP     (HTTP)
    dicomwebs://HOST:PORT/ROOT/studies/STUDY/series/SERIES/instances/SOP    (HTTPS)

``ROOT`` is the server's DICOMweb prefix (``/dicom-web`` for Orthanc, ``/dcm4chee-arc/aets/
DCM4CHEE/rs`` for dcm4chee). The scheme says "this is a DICOMweb instance, not a file", so
a path column can hold both. A URL never carries a password (``user:pass@``): credentials
come from the environment or a netrc (`ramultimodal.io._dicomweb_auth`), never from a file
of the cohort folder.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from ramultimodal._errors import InputError

__all__ = [
    "DICOMwebAddressError",
    "DICOMwebInstance",
    "dicomweb_root",
    "has_credentials",
    "is_dicomweb_url",
]

SCHEMES = {"dicomweb": "http", "dicomwebs": "https"}

# A DICOM UID: dot-separated numbers, at most 64 characters (PS3.5 9.1).
_UID = r"[0-9]+(?:\.[0-9]+)*"
_INSTANCE_PATH = re.compile(
    rf"(?P<root>.*?)/studies/(?P<study>{_UID})/series/(?P<series>{_UID})"
    rf"/instances/(?P<sop>{_UID})/?"
)


class DICOMwebAddressError(InputError):
    """A ``dicomweb://`` URL that cannot name an instance or a server (says why)."""


def is_dicomweb_url(path: object) -> bool:
    """Whether `path` is a ``dicomweb://`` or ``dicomwebs://`` URL (not a file path).

    Examples
    --------
    >>> is_dicomweb_url("dicomweb://pacs:8042/dicom-web/studies/1/series/2/instances/3")
    True
    >>> is_dicomweb_url("images/a.dcm"), is_dicomweb_url(None)
    (False, False)
    """
    return isinstance(path, str) and path.split("://", 1)[0].lower() in SCHEMES and "://" in path


def has_credentials(url: str) -> bool:
    """Whether a URL carries a user or a password before its host (``user:pass@``).

    Examples
    --------
    >>> has_credentials("dicomweb://me:secret@pacs/dicom-web"), has_credentials("dicomweb://pacs")
    (True, False)
    """
    parts = urlsplit(url.strip())
    return parts.username is not None or parts.password is not None


def _split(url: str, what: str):
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in SCHEMES:
        raise DICOMwebAddressError(
            f"{what} {_shown(url)} is not a dicomweb:// or dicomwebs:// URL: write "
            "http://HOST:PORT/ROOT as dicomweb://HOST:PORT/ROOT, https:// as dicomwebs://."
        )
    if has_credentials(url):
        # Never echo it: the part before "@" may be a password.
        raise DICOMwebAddressError(
            f"{what} {_shown(url)} holds credentials (user@ or user:password@): remove them "
            "and give them in RAMULTIMODAL_DICOMWEB_USER / RAMULTIMODAL_DICOMWEB_PASSWORD "
            "(or RAMULTIMODAL_DICOMWEB_TOKEN) or ~/.netrc (docs/dicomweb.md)."
        )
    if not parts.hostname:
        raise DICOMwebAddressError(f"{what} {_shown(url)} names no host.")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked
    except ValueError:
        raise DICOMwebAddressError(f"{what} {_shown(url)} has a bad port.") from None
    if parts.query or parts.fragment:
        raise DICOMwebAddressError(
            f"{what} {_shown(url)} has a query or fragment (?... or #...); give the bare URL."
        )
    return parts


def _shown(url: str) -> str:
    """`url` as a message may show it: without anything before an ``@`` of its host part."""
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        return repr(url[:200])
    host, slash, path = rest.partition("/")
    host = host.rpartition("@")[2]
    return f"{scheme}://{host}{slash}{path}"[:300]


@dataclass(frozen=True)
class DICOMwebInstance:
    """One instance on a DICOMweb server, parsed from its ``dicomweb://`` URL.

    Attributes
    ----------
    root : str
        The server's DICOMweb root as HTTP(S): ``http://pacs:8042/dicom-web``.
    study_uid, series_uid, sop_uid : str
        Study, Series and SOP Instance UIDs.

    Examples
    --------
    >>> instance = DICOMwebInstance.parse(
    ...     "dicomwebs://pacs.example.org/dicom-web/studies/1.2/series/1.3/instances/1.4")
    >>> instance.root, instance.sop_uid
    ('https://pacs.example.org/dicom-web', '1.4')
    >>> instance.url
    'dicomwebs://pacs.example.org/dicom-web/studies/1.2/series/1.3/instances/1.4'
    """

    root: str
    study_uid: str
    series_uid: str
    sop_uid: str

    @classmethod
    def parse(cls, url: str) -> DICOMwebInstance:
        """Parse ``dicomweb[s]://HOST[:PORT]/ROOT/studies/S/series/E/instances/I``."""
        parts = _split(url, "The DICOMweb URL")
        match = _INSTANCE_PATH.fullmatch(parts.path)
        if match is None or any(len(match[uid]) > 64 for uid in ("study", "series", "sop")):
            raise DICOMwebAddressError(
                f"The DICOMweb URL {_shown(url)} does not end in "
                "/studies/<Study UID>/series/<Series UID>/instances/<SOP Instance UID> "
                "(UIDs of digits and dots, at most 64 characters)."
            )
        root = f"{SCHEMES[parts.scheme.lower()]}://{parts.netloc}{match['root'].rstrip('/')}"
        return cls(root, match["study"], match["series"], match["sop"])

    @property
    def url(self) -> str:
        """The instance as a ``dicomweb[s]://`` URL (what messages show: no credentials)."""
        return (
            f"{as_dicomweb(self.root)}/studies/{self.study_uid}/series/{self.series_uid}"
            f"/instances/{self.sop_uid}"
        )


def as_dicomweb(root: str) -> str:
    """An ``http(s)://`` root as ``dicomweb(s)://``, for messages.

    Examples
    --------
    >>> as_dicomweb("https://pacs/dicom-web")
    'dicomwebs://pacs/dicom-web'
    """
    scheme, _, rest = root.partition("://")
    return f"{'dicomwebs' if scheme == 'https' else 'dicomweb'}://{rest}"


def dicomweb_root(url: str) -> str:
    """A PACS given as ``dicomweb[s]://HOST[:PORT]/ROOT``, as its HTTP(S) root.

    Examples
    --------
    >>> dicomweb_root("dicomweb://127.0.0.1:8042/dicom-web/")
    'http://127.0.0.1:8042/dicom-web'
    """
    parts = _split(url, "The PACS")
    if "/studies" in parts.path:
        raise DICOMwebAddressError(
            f"The PACS {_shown(url)} names a study or an instance; give the server's "
            "DICOMweb root (for Orthanc: dicomweb://HOST:8042/dicom-web)."
        )
    return f"{SCHEMES[parts.scheme.lower()]}://{parts.netloc}{parts.path.rstrip('/')}"
