"""Who we are to a DICOMweb server: credentials from the environment or a netrc, never a file
of the cohort folder, never logged.

In this order, the first that is set wins:

1. ``RAMULTIMODAL_DICOMWEB_TOKEN``: an OAuth 2 bearer token (``Authorization: Bearer ...``),
   for every server;
2. ``RAMULTIMODAL_DICOMWEB_USER`` and ``RAMULTIMODAL_DICOMWEB_PASSWORD``: HTTP Basic, for
   every server;
3. the netrc file (``$NETRC``, else ``~/.netrc``): the ``machine`` line of the server's
   host, HTTP Basic;
4. nothing: the request goes without credentials.

A cohort folder travels (to a colleague, into a repository), so a password in it would
leak; the environment and ``~/.netrc`` stay on the machine that runs the command.
"""

from __future__ import annotations

import netrc
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ramultimodal._errors import InputError

if TYPE_CHECKING:
    import requests

__all__ = ["Credentials", "credentials_for"]

TOKEN_ENV = "RAMULTIMODAL_DICOMWEB_TOKEN"
USER_ENV = "RAMULTIMODAL_DICOMWEB_USER"
PASSWORD_ENV = "RAMULTIMODAL_DICOMWEB_PASSWORD"
HOW_TO_SET = (
    f"set {USER_ENV} and {PASSWORD_ENV} (or {TOKEN_ENV}), or add a 'machine HOST login "
    "USER password PASSWORD' line to ~/.netrc (docs/dicomweb.md)"
)


class _BearerAuth:
    """``Authorization: Bearer <token>``; as an auth object so that requests does not
    replace it with a netrc login."""

    # Not a subclass of requests.auth.AuthBase: requests takes any callable as `auth` (the
    # base holds nothing but an abstract __call__), and subclassing it would import requests
    # with ramultimodal.io, where most uses never reach a DICOMweb server.

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:  # never the token
        return "_BearerAuth(<hidden>)"


@dataclass(frozen=True, repr=False)
class Credentials:
    """What a session sends, and where it came from (for messages; never the secret).

    Attributes
    ----------
    source : str
        ``"RAMULTIMODAL_DICOMWEB_TOKEN"``, ``"RAMULTIMODAL_DICOMWEB_USER/PASSWORD"``,
        ``"~/.netrc"`` (or the ``$NETRC`` file) or ``"none"``.
    """

    source: str
    auth: _BearerAuth | tuple[str, str] | None = None

    def __repr__(self) -> str:
        return f"Credentials(source={self.source!r})"

    def session(self) -> requests.Session:
        """A requests session that sends these credentials."""
        import requests

        session = requests.Session()
        session.auth = self.auth
        return session


def _netrc_file() -> Path:
    # $NETRC as curl and requests read it; ~/.netrc otherwise.
    return Path(os.environ.get("NETRC") or Path.home() / ".netrc")


def credentials_for(root: str) -> Credentials:
    """The credentials for the DICOMweb server at `root` (an ``http(s)://`` URL).

    Examples
    --------
    >>> import os
    >>> os.environ["RAMULTIMODAL_DICOMWEB_TOKEN"] = "abc"
    >>> credentials_for("http://pacs:8042/dicom-web")
    Credentials(source='RAMULTIMODAL_DICOMWEB_TOKEN')
    >>> del os.environ["RAMULTIMODAL_DICOMWEB_TOKEN"]
    """
    token = os.environ.get(TOKEN_ENV)
    if token:
        return Credentials(TOKEN_ENV, _BearerAuth(token))
    user, password = os.environ.get(USER_ENV), os.environ.get(PASSWORD_ENV)
    if user or password:
        if not (user and password):
            given, missing = (USER_ENV, PASSWORD_ENV) if user else (PASSWORD_ENV, USER_ENV)
            raise InputError(
                f"{given} is set but {missing} is not: set both (or neither, to use ~/.netrc)."
            )
        return Credentials(f"{USER_ENV}/PASSWORD", (user, password))
    path = _netrc_file()
    if path.is_file():
        try:
            entries = netrc.netrc(str(path))
        except netrc.NetrcParseError as error:
            # Not the parser's message: it quotes the token it choked on, maybe a password.
            raise InputError(
                f"{path}, line {error.lineno}: the netrc file cannot be read; fix that line "
                "(machine HOST login USER password PASSWORD)."
            ) from None
        except OSError as error:
            raise InputError(f"Cannot read {path} ({error.strerror}).") from None
        host = urlsplit(root).hostname or ""
        found = entries.authenticators(host)
        if found is not None and found[2]:
            return Credentials(str(path), (found[0], found[2]))
    return Credentials("none")
