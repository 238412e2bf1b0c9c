"""imagegate: mirror a vetted allowlist of community images into a Docker Hub organization."""

__version__ = "0.1.0"
