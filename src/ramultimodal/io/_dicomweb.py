"""Radiographs from a DICOMweb server (a PACS, Orthanc): fetched once, kept on disk, read as files.

`fetch_instance` retrieves one instance named by a ``dicomweb://`` URL with WADO-RS
(`dicomweb_client.DICOMwebClient.retrieve_instance`, in the transfer syntax the server
stores it in) and writes the Part-10 file into a cache folder, named by its SOP Instance
UID, which is unique to the instance worldwide: a second read of the same instance makes no
request. `read_image` then reads that file as any other. `prefetch_instances` does a whole
cohort's with a few threads.

Every failure is one `DICOMwebError` line: what was tried (the URL, never credentials, never
a patient identifier), what went wrong, what to do.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ramultimodal._staging import atomic_file
from ramultimodal.io._dicomweb_auth import (
    HOW_TO_SET,
    PASSWORD_ENV,
    TOKEN_ENV,
    USER_ENV,
    credentials_for,
)
from ramultimodal.io._dicomweb_url import DICOMwebInstance, as_dicomweb
from ramultimodal.io._image_meta import ImageReadError

__all__ = [
    "CACHE_ENV",
    "TIMEOUT_ENV",
    "DICOMwebError",
    "dicomweb_cache_dir",
    "fetch_instance",
    "prefetch_instances",
]

logger = logging.getLogger(__name__)

CACHE_ENV = "RAMULTIMODAL_DICOMWEB_CACHE"
TIMEOUT_ENV = "RAMULTIMODAL_DICOMWEB_TIMEOUT"
#: Seconds to wait for a server to connect, and then for each read, before giving up. A PACS
#: under load answers a single instance in well under a second; 30 s is patience, not hope.
DEFAULT_TIMEOUT_S = 30.0
#: Threads fetching a cohort's instances at once: enough to overlap the round trips, few
#: enough not to be taken for an attack by a hospital's PACS.
PREFETCH_THREADS = 4
#: Tries of each request (the first and two more) before its failure is reported.
RETRY_ATTEMPTS = 3

# The original transfer syntax ("*", PS3.18 8.7.3.5): pixels as stored, no transcoding by
# the server (a lossy re-encoding would change them).
_AS_STORED = (("application/dicom", "*"),)


class DICOMwebError(ImageReadError):
    """A DICOMweb request that failed: what was tried, what went wrong, what to do.

    A kind of `ImageReadError` (an instance that cannot be read is an image that cannot be
    read), so code that handles unreadable images handles these too.

    Parameters
    ----------
    tried : str
        The request, by its URL without credentials (``WADO-RS dicomweb://...``).
    problem, advice : str
        What went wrong, and what the user can do.

    Examples
    --------
    >>> str(DICOMwebError("WADO-RS dicomweb://pacs/dicom-web/...", "HTTP 500", "Ask."))
    'WADO-RS dicomweb://pacs/dicom-web/...: HTTP 500. Ask.'
    """

    def __init__(self, tried: str, problem: str, advice: str) -> None:
        Exception.__init__(self, f"{tried}: {problem}. {advice}")
        self.path = tried
        self._parts = (tried, problem, advice)

    def __reduce__(self) -> tuple:
        # Raised on a Dask worker, it is pickled back to the client with its own arguments.
        return type(self), self._parts


def dicomweb_cache_dir() -> Path:
    """The folder of fetched instances: ``$RAMULTIMODAL_DICOMWEB_CACHE``, else
    ``$XDG_CACHE_HOME/ramultimodal/dicomweb`` (``~/.cache/ramultimodal/dicomweb``).

    Examples
    --------
    >>> import os
    >>> os.environ["RAMULTIMODAL_DICOMWEB_CACHE"] = "/tmp/instances"
    >>> dicomweb_cache_dir()
    PosixPath('/tmp/instances')
    >>> del os.environ["RAMULTIMODAL_DICOMWEB_CACHE"]
    """
    folder = os.environ.get(CACHE_ENV)
    if folder:
        return Path(folder).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "ramultimodal" / "dicomweb"


def _timeout() -> float:
    text = os.environ.get(TIMEOUT_ENV)
    if not text:
        return DEFAULT_TIMEOUT_S
    try:
        seconds = float(text)
    except ValueError:
        seconds = -1.0
    if not seconds > 0:
        raise DICOMwebError(
            TIMEOUT_ENV, f"{text!r} is not a number of seconds", "Set it to e.g. 60, or unset it"
        )
    return seconds


# One client per server and thread: a requests session is not meant to be shared by
# threads, and building a client costs little next to a request.
_clients = threading.local()


def dicomweb_client(root: str):
    """A `dicomweb_client.DICOMwebClient` for `root` with its credentials and timeout."""
    from dicomweb_client import DICOMwebClient

    timeout = _timeout()
    clients = _clients.__dict__.setdefault("by_root", {})
    # Whatever decides the credentials: a test (or a long session) may change them.
    names = (TOKEN_ENV, USER_ENV, PASSWORD_ENV, "NETRC", "HOME")
    key = (root, timeout, *(os.environ.get(name) for name in names))
    if key not in clients:
        credentials = credentials_for(root)
        client = DICOMwebClient(root, session=credentials.session(), timeout=timeout)
        # dicomweb_client retries every failure 5 times, 1, 2, 4, 8 s apart (half a minute
        # before "connection refused" is said); 3 tries 0.5 and 1 s apart ride out a
        # server's brief hiccup (HTTP 503, a dropped connection) without that wait.
        client.set_http_retry_params(
            retry=True, max_attempts=RETRY_ATTEMPTS, wait_exponential_multiplier=250
        )
        clients[key] = (client, credentials.source)
    return clients[key]


def forget_clients() -> None:
    """Drop this thread's clients (their sessions and credentials); the next request makes
    new ones. For tests that change the environment."""
    _clients.__dict__.pop("by_root", None)


def request_failure(tried: str, root: str, source: str, error: Exception) -> DICOMwebError:
    """A requests or HTTP failure as one line (never the exception's text, which may quote
    the query string, and so a patient's identifier)."""
    # Here, not at the top: requests is loaded only once a DICOMweb server is used.
    import requests

    server = as_dicomweb(root)
    if isinstance(error, requests.Timeout):
        return DICOMwebError(
            tried,
            f"no answer within {_timeout():g} s",
            f"Check that {server} is up and reachable from here, or allow more time with "
            f"{TIMEOUT_ENV}=SECONDS",
        )
    if isinstance(error, requests.ConnectionError):
        return DICOMwebError(
            tried,
            "the connection was refused or the host cannot be reached",
            f"Check that the server runs and that {server} is its host, port and DICOMweb "
            "root (Orthanc: port 8042, root /dicom-web, with the DICOMweb plugin)",
        )
    if isinstance(error, requests.HTTPError) and error.response is not None:
        status = error.response.status_code
        if status in (401, 403):
            if source == "none":
                problem = "the server asks for credentials and none were given"
            elif status == 401:
                problem = f"the server refused the credentials of {source}"
            else:
                problem = f"the credentials of {source} may not read this"
            return DICOMwebError(
                tried,
                f"HTTP {status}: {problem}",
                f"Give credentials this server accepts: {HOW_TO_SET}",
            )
        if status == 404:
            return DICOMwebError(
                tried,
                "HTTP 404: the server has no such resource",
                "Check the UIDs (the instance may have been deleted or not yet sent to the "
                f"PACS) and that {server} is the DICOMweb root",
            )
        return DICOMwebError(
            tried,
            f"HTTP {status} {error.response.reason or ''}".strip(),
            "Try again later, or ask the PACS administrators what the server logged",
        )
    return DICOMwebError(
        tried, f"the request failed ({type(error).__name__})", f"Check that {server} is up"
    )


def _retrieve(instance: DICOMwebInstance):
    import requests

    client, source = dicomweb_client(instance.root)
    tried = f"WADO-RS {instance.url}"
    uids = (instance.study_uid, instance.series_uid, instance.sop_uid)
    try:
        try:
            dataset = client.retrieve_instance(*uids, media_types=_AS_STORED)
        except requests.HTTPError as error:
            if error.response is None or error.response.status_code != 406:
                raise
            # A server that cannot send the stored syntax: its default (Explicit VR LE).
            dataset = client.retrieve_instance(*uids)
    except requests.RequestException as error:
        raise request_failure(tried, instance.root, source, error) from None
    except Exception as error:
        # dicomweb_client parses the answer (multipart, then DICOM); a web page or an
        # empty body fails there, with any type.
        raise DICOMwebError(
            tried,
            f"the answer is not a DICOM instance ({type(error).__name__})",
            f"Check that {as_dicomweb(instance.root)} is the server's DICOMweb root "
            "(Orthanc: /dicom-web), not its web interface or another service",
        ) from None
    if str(getattr(dataset, "SOPInstanceUID", "")) != instance.sop_uid:
        raise DICOMwebError(
            tried,
            "the server answered with another instance",
            "Report it to the PACS administrators",
        )
    return dataset


def fetch_instance(url: str) -> Path:
    """The Part-10 file of a DICOMweb instance, fetched once and kept in the cache.

    Parameters
    ----------
    url : str
        ``dicomweb[s]://HOST[:PORT]/ROOT/studies/S/series/E/instances/I``.

    Returns
    -------
    Path
        ``<cache>/<SOP Instance UID>.dcm`` (`dicomweb_cache_dir`), written under a temporary
        name and renamed, so that processes may share the cache.

    Raises
    ------
    DICOMwebError
        When the server cannot be reached, times out, refuses the credentials, has no such
        instance, or answers with something that is not DICOM.

    Examples
    --------
    >>> url = "dicomweb://127.0.0.1:9/dicom-web/studies/1/series/2/instances/3"
    >>> try:  # nothing listens on port 9 (discard) here
    ...     fetch_instance(url)
    ... except DICOMwebError as error:
    ...     print(str(error).split(": ")[1].split(". ")[0])
    the connection was refused or the host cannot be reached
    """
    instance = DICOMwebInstance.parse(url)
    path = dicomweb_cache_dir() / f"{instance.sop_uid}.dcm"
    if path.is_file():
        return path
    dataset = _retrieve(instance)
    try:
        with atomic_file(path) as partial:
            dataset.save_as(partial, enforce_file_format=True)
    except OSError as error:
        raise DICOMwebError(
            f"WADO-RS {instance.url}",
            f"the instance cannot be kept in {path.parent} ({error.strerror})",
            f"Set {CACHE_ENV} to a folder you may write",
        ) from None
    return path


def prefetch_instances(urls: Iterable[str], *, verbose: int = 0) -> list[Path]:
    """Fetch many instances into the cache, `PREFETCH_THREADS` at a time.

    Parameters
    ----------
    urls : iterable of str
        ``dicomweb://`` URLs; repeats are fetched once.
    verbose : int, default 0
        A progress bar (on stderr) when > 0.

    Returns
    -------
    list of Path
        The cached file of each distinct URL, in the order first given.

    Raises
    ------
    DICOMwebError
        At the first instance that cannot be fetched (those still queued are not).

    Examples
    --------
    >>> prefetch_instances([])
    []
    """
    from tqdm.auto import tqdm

    distinct = list(dict.fromkeys(urls))
    if not distinct:
        return []
    cache = dicomweb_cache_dir()
    uids = [DICOMwebInstance.parse(url).sop_uid for url in distinct]
    cached = sum((cache / f"{uid}.dcm").is_file() for uid in uids)
    pool = ThreadPoolExecutor(max_workers=PREFETCH_THREADS, thread_name_prefix="dicomweb")
    try:
        fetched = pool.map(fetch_instance, distinct)
        paths = list(
            tqdm(fetched, total=len(distinct), desc="DICOMweb", unit="image", disable=verbose <= 0)
        )
    finally:
        pool.shutdown(cancel_futures=True)
    roots = sorted({as_dicomweb(DICOMwebInstance.parse(url).root) for url in distinct})
    logger.info(
        "DICOMweb: %d instances from %s (%d already in %s).",
        len(distinct),
        ", ".join(roots),
        cached,
        cache,
    )
    return paths
