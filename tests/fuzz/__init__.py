"""The differential fuzzer: random kernels in optc's subset, every variant checked against CPython."""
