"""imagegate against skopeo: ``python -m bench.run [--quick]`` (docs/benchmarks.md)."""
