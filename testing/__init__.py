"""Helpers shared by the tests: real git repositories, bare remotes, running the CLI."""
