"""A fake Azure Storage account on a local folder, for the Azure ML tests (no Azure account exists here).

One folder per account, one subfolder per container, shared by the two endpoints a real ADLS Gen2 account has:
the Blob API (`BlobServiceClient`, used by the Dagster Pipes context injector/message reader and the job's
loader/writer) and the dfs endpoint (`abfss://` through fsspec, used by the IO manager and the trainer).
Loaded in the job process by this folder's sitecustomize.py, in the test process by the fixtures.
"""

from __future__ import annotations

import os
from pathlib import Path
from urllib.parse import urlparse

ROOT_ENV = "FAKE_AZURE_STORAGE_ROOT"


def _account_dir(account: str) -> Path:
    return Path(os.environ[ROOT_ENV]) / account


class FakeBlobServiceClient:
    """The slice of azure.storage.blob.BlobServiceClient that Dagster Pipes uses."""

    def __init__(self, account_url: str, credential=None):
        from azure.identity import DefaultAzureCredential

        if not isinstance(credential, DefaultAzureCredential):  # the project authenticates only this way
            raise TypeError(f"expected a DefaultAzureCredential, got {type(credential).__name__}")
        host = urlparse(account_url).hostname or ""
        if not host.endswith(".blob.core.windows.net"):
            raise ValueError(f"not a blob endpoint: {account_url}")
        self.account_dir = _account_dir(host.split(".")[0])

    def get_blob_client(self, container: str, blob: str) -> FakeBlobClient:
        return FakeBlobClient(self.account_dir / container, blob)


class FakeBlobClient:
    def __init__(self, container_dir: Path, blob: str):
        self.container_dir = container_dir
        self.path = container_dir / blob

    def __enter__(self) -> FakeBlobClient:
        return self

    def __exit__(self, *exc) -> None:
        return None

    def _check_container(self) -> None:
        from azure.core.exceptions import ResourceNotFoundError

        if not self.container_dir.is_dir():
            raise ResourceNotFoundError(f"ContainerNotFound: {self.container_dir.name}")

    def upload_blob(self, data, overwrite: bool = False) -> None:
        from azure.core.exceptions import ResourceExistsError

        self._check_container()
        if self.path.exists() and not overwrite:
            raise ResourceExistsError(f"BlobAlreadyExists: {self.path.name}")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.part")
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)
        tmp.replace(self.path)  # readers never see half a blob

    def download_blob(self) -> _Downloader:
        from azure.core.exceptions import ResourceNotFoundError

        self._check_container()
        if not self.path.is_file():
            raise ResourceNotFoundError(f"BlobNotFound: {self.path.name}")
        return _Downloader(self.path.read_bytes())

    def delete_blob(self) -> None:
        self.download_blob()  # same not-found errors
        self.path.unlink()

    def exists(self) -> bool:
        self._check_container()
        return self.path.is_file()


class _Downloader:
    def __init__(self, payload: bytes):
        self.payload = payload

    def readall(self) -> bytes:
        return self.payload


def fake_adls_class():
    """An fsspec filesystem for abfss:// on the account folders, parsing URIs exactly as adlfs does."""
    from adlfs import AzureBlobFileSystem
    from fsspec.implementations.dirfs import DirFileSystem
    from fsspec.implementations.local import LocalFileSystem

    class FakeADLS(DirFileSystem):
        protocol = ("abfss",)
        cachable = False  # the root folder changes between tests
        sep = "/"  # class attributes, as universal-pathlib reads them off the class
        root_marker = ""

        def __init__(self, account_name: str | None = None, anon: bool | None = None, **kwargs):
            if not account_name:
                raise ValueError("abfss:// without an account: use abfss://<container>@<account>.dfs.core.windows.net/")
            super().__init__(path=str(_account_dir(account_name)), fs=LocalFileSystem(auto_mkdir=True))

        @classmethod
        def _strip_protocol(cls, path):
            return AzureBlobFileSystem._strip_protocol(path)

        @staticmethod
        def _get_kwargs_from_urls(urlpath):
            return AzureBlobFileSystem._get_kwargs_from_urls(urlpath)

    return FakeADLS


def install() -> None:
    """Route this process's Blob clients and abfss:// paths to the fake account folders."""
    import azure.storage.blob
    import fsspec

    azure.storage.blob.BlobServiceClient = FakeBlobServiceClient
    fsspec.register_implementation("abfss", fake_adls_class(), clobber=True)
