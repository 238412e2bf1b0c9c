"""Docker Hub management: API client, pure hub planner, provenance, classification, preflight.

Layout (each module has one job):

- ``models``      frozen input/observed values and the hub actions
- ``wire``        pure helpers for the Hub wire format (errors, Retry-After, JWT ``exp``)
- ``client``      ``HubClient``: login, retries on 429, pagination, typed errors
- ``plan``        PURE: desired + observed -> hub actions
- ``provenance``  PURE: short and full repository descriptions carrying provenance
- ``observe``     I/O: read the observed state with as few requests as possible
- ``apply``       I/O: carry out hub actions, one outcome per action
- ``classify``    Official / Verified Publisher / Sponsored OSS / Community / own org
- ``doctor``      preflight checks explained in plain words
"""
