"""The copy engine: copy one image between registries exactly (see :mod:`.copy`)."""
