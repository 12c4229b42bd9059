"""Benchmarks print figures (`make bench`); tests assert behaviour, benchmarks measure it."""
