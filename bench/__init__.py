"""Benchmarks: a realistic-history generator and the read-path (views) benchmark. See bench/README.md."""
