"""Credentials inside URIs (`scheme://user:password@host`): kept out of everything printed, logged, raised or stored.

An MLflow server behind basic auth is often configured as MLFLOW_TRACKING_URI=https://user:password@host. MLflow
would echo that URL in its "View run ... at" line and in every request error; `connect` moves the credentials into
MLflow's own credential variables instead, and `strip_credentials` cleans any text shown to a user.
"""

from __future__ import annotations

import os
import re
from urllib.parse import unquote, urlsplit, urlunsplit

# abfss://<container>@<account>...: the part before @ names a container, not a user.
_NOT_USERINFO = ("abfss", "abfs", "wasbs", "wasb")
_URI_USERINFO = re.compile(r"\b(?P<scheme>[a-zA-Z][a-zA-Z0-9+.\-]*)://(?P<userinfo>[^/\s@]+)@")
HTTP_SCHEMES = ("http", "https")


def strip_credentials(text: str) -> str:
    """`text` with the user:password@ of every URI in it removed."""

    def strip(match: re.Match[str]) -> str:
        if match["scheme"].lower() in _NOT_USERINFO:
            return match.group(0)
        return f"{match['scheme']}://"

    return _URI_USERINFO.sub(strip, text)


def split_credentials(uri: str) -> tuple[str, str | None, str | None]:
    """(the URI without user:password@, the user name, the password), percent-decoded."""
    parts = urlsplit(uri)
    if parts.scheme.lower() in _NOT_USERINFO or "@" not in parts.netloc:
        return uri, None, None
    host = parts.netloc.rsplit("@", 1)[1]
    bare = urlunsplit(parts._replace(netloc=host))
    username = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    return bare, username, password


def connect(uri: str) -> str:
    """Point this process's MLflow at `uri` and return the URI to give MlflowClient.

    For an http(s) server, a user:password in the URI moves to MLFLOW_TRACKING_USERNAME/MLFLOW_TRACKING_PASSWORD
    (MLflow's basic-auth variables, read per request) and the returned URI has none: no URL MLflow prints, logs or
    raises then carries the password. Database URIs are left whole (SQLAlchemy masks their passwords itself).
    """
    import mlflow

    bare, username, password = split_credentials(uri)
    if urlsplit(uri).scheme.lower() not in HTTP_SCHEMES:
        bare = uri
    else:
        if username:
            os.environ["MLFLOW_TRACKING_USERNAME"] = username
        if password:
            os.environ["MLFLOW_TRACKING_PASSWORD"] = password
    mlflow.set_tracking_uri(bare)
    return bare
