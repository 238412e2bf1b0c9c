"""Leaf domain package: value types only. Imports nothing else from imagegate but errors."""
