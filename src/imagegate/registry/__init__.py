"""OCI distribution client.

Import from the modules: ``imagegate.registry.client.RegistryClient`` (with ``ManifestInfo``,
``RawManifest``, ``BlobStream``), ``imagegate.registry.settings.RegistrySettings`` /
``HostSettings``, ``imagegate.registry.credentials.CredentialStore`` / ``Credential``,
``imagegate.retry.RetryPolicy``, ``imagegate.registry.ratelimit.RateLimit`` and
``imagegate.registry.stats.RequestStats``. Nothing is imported here, so the pure modules
(challenge, ratelimit, auth) load without aiohttp.
"""
