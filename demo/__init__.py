"""The ``make demo`` walkthrough: imagegate between two local registries (see __main__)."""
