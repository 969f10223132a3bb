"""The command line: the only place that imports typer, prints or exits."""

from __future__ import annotations

import sys

# `mreg resolve REF` runs in every deploy script, often in a loop: it skips typer (~100 ms of import
# and command-tree building) when its arguments are plain. Anything else — --help, --json, an
# unknown or malformed option — goes through typer, which owns usage errors and help text.
_RESOLVE_VALUE_OPTIONS = ("--repo", "--registry", "--at")


def _plain_resolve(argv: list[str]) -> dict[str, str | bool] | None:
    if not argv or argv[0] != "resolve":
        return None
    opts: dict[str, str | bool] = {"repo": ".", "offline": False}
    rest = argv[1:]
    i = 0
    while i < len(rest):
        arg = rest[i]
        if arg == "--offline":
            opts["offline"] = True
        elif arg in _RESOLVE_VALUE_OPTIONS and i + 1 < len(rest) and not rest[i + 1].startswith("-"):
            opts[arg[2:]] = rest[i + 1]
            i += 1
        elif arg.split("=", 1)[0] in _RESOLVE_VALUE_OPTIONS and "=" in arg:
            key, value = arg.split("=", 1)
            opts[key[2:]] = value
        elif not arg.startswith("-") and "ref" not in opts:
            opts["ref"] = arg
        else:
            return None
        i += 1
    return opts if "ref" in opts else None


def _resolve_fast(opts: dict[str, str | bool]) -> int:
    from mreg.cli._report import report_unexpected

    try:
        from mreg.cli._session import open_registry, when
        from mreg.integrations import github_actions as ci

        registry, at = opts.get("registry"), opts.get("at")
        reg = open_registry(
            str(opts["repo"]), registry=str(registry) if registry else None, offline=bool(opts["offline"])
        )
        v = reg.resolve(str(opts["ref"]), when(str(at)) if at is not None else None, with_aliases=False)
        print(v.ref)
        ci.write_outputs({"model": v.model, "version": v.version, "digest": v.digest})
        return 0
    except (Exception, KeyboardInterrupt) as exc:
        return report_unexpected(exc, as_json=False)


def main(argv: list[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    plain = _plain_resolve(args)
    if plain is not None:
        sys.exit(_resolve_fast(plain))
    from mreg.cli._errors import run
    from mreg.cli.app import app

    sys.exit(run(app, args))
