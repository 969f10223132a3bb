"""Unit tests: each file tests one module of src/mreg in-process, never through the CLI, and mirrors
the package: tests/unit/<package>/test_<module>.py for src/mreg/<package>/<module>.py,
tests/unit/test_<module>.py for a flat module, and test_<package>.py beside a package's modules for
its __init__ (tests/unit/store/test_store.py: open_store and the contract every store keeps).
Tests that run `mreg` or drive a whole registry stay in tests/."""
