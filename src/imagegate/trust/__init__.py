"""Supply-chain verification, offline: cosign signatures (public keys and keyless),
DSSE/in-toto attestations, the Rekor SET, the trusted root. Pure functions over bytes and
``cryptography``; no registry, no plan, no network (see docs/supply-chain.md)."""
