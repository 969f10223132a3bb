"""mreg: a Git-native model registry. Importing this package stays light (no git, YAML or fsspec).

The Python API (SPEC §10) is `mreg.Registry`; its methods return the frozen results below
(`mreg.results`), each with `to_json()`; failures raise a subclass of `mreg.MregError` whose
`exit_code` is the CLI's (SPEC §8).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from mreg._version import __version__
from mreg.errors import (
    CheckFailedError,
    ConflictError,
    IntegrityError,
    InternalError,
    MregError,
    NotFoundError,
    RemoteError,
    UsageError,
)

if TYPE_CHECKING:
    from mreg.context import Config
    from mreg.manifest import Manifest
    from mreg.registry import Registry
    from mreg.results import (
        AliasMove,
        Applied,
        ApplyReport,
        CheckReport,
        CopyReport,
        Diff,
        Evaluation,
        GateReport,
        GateRun,
        GcReport,
        ImportReport,
        ImportRow,
        InitResult,
        Lineage,
        LineageAlias,
        LineageNode,
        LogEntry,
        ModelReport,
        ModelSummary,
        OutletRun,
        Pending,
        PolicyChange,
        Problem,
        PullResult,
        RegisterResult,
        Report,
        ReportMove,
        ReportVersion,
        Review,
        VerifyReport,
        Version,
    )


def __getattr__(name: str) -> Any:
    if name == "Registry":
        from mreg.registry import Registry

        return Registry
    if name == "Config":
        from mreg.context import Config

        return Config
    if name == "Manifest":
        from mreg.manifest import Manifest

        return Manifest
    if name[:1].isupper():  # the results, imported only when one is asked for
        from mreg import results

        if name in results.__all__:
            return getattr(results, name)
    raise AttributeError(f"module 'mreg' has no attribute {name!r}")


__all__ = [
    "AliasMove",
    "Applied",
    "ApplyReport",
    "CheckFailedError",
    "CheckReport",
    "Config",
    "ConflictError",
    "CopyReport",
    "Diff",
    "Evaluation",
    "GateReport",
    "GateRun",
    "GcReport",
    "ImportReport",
    "ImportRow",
    "InitResult",
    "IntegrityError",
    "InternalError",
    "Lineage",
    "LineageAlias",
    "LineageNode",
    "LogEntry",
    "Manifest",
    "ModelReport",
    "ModelSummary",
    "MregError",
    "NotFoundError",
    "OutletRun",
    "Pending",
    "PolicyChange",
    "Problem",
    "PullResult",
    "RegisterResult",
    "Registry",
    "RemoteError",
    "Report",
    "ReportMove",
    "ReportVersion",
    "Review",
    "UsageError",
    "VerifyReport",
    "Version",
    "__version__",
]
