"""The version, defined once: pyproject.toml reads it from here (`[tool.setuptools.dynamic]`), so the
package metadata and `mreg.__version__` cannot disagree, and reading it costs no importlib.metadata (~30 ms)."""

__version__ = "0.1.0"
