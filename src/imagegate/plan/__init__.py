"""PURE: deciding what a run does. Values in, a Plan out; no I/O, no clock."""
