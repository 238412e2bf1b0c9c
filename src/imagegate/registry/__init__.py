"""OCI distribution client: ``RegistryClient`` and the settings and credentials it takes."""

from imagegate.registry.client import BlobStream, ManifestInfo, RawManifest, RegistryClient
from imagegate.registry.credentials import Credential, CredentialStore
from imagegate.registry.ratelimit import RateLimit
from imagegate.registry.retry import RetryPolicy
from imagegate.registry.settings import HostSettings, RegistrySettings
from imagegate.registry.stats import RequestStats

__all__ = [
    "BlobStream",
    "Credential",
    "CredentialStore",
    "HostSettings",
    "ManifestInfo",
    "RateLimit",
    "RawManifest",
    "RegistryClient",
    "RegistrySettings",
    "RequestStats",
    "RetryPolicy",
]
