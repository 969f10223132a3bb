"""The GitHub workflow `mreg init --github` commits onto the governed branch (SPEC §3, §7)."""

from __future__ import annotations

APPLY_WORKFLOW = """\
# Written by `mreg init --github`. GitHub runs the workflow file found on the branch that was pushed,
# so this file lives on mreg/aliases: every merged promotion PR becomes an alias tag.
name: mreg apply
on:
  push:
    branches: [mreg/aliases]
  workflow_dispatch: {}
permissions:
  contents: write       # push the alias tags
  pull-requests: read   # find the merged PR, recorded in each tag's `request`
concurrency:
  group: mreg-apply
  cancel-in-progress: false
jobs:
  apply:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0
      - uses: actions/setup-python@v5
        with:
          python-version: "3.12"
      - run: pip install mreg
      - name: Create the tags that merged promotions ask for
        id: apply
        run: mreg apply
        env:
          GITHUB_TOKEN: ${{ github.token }}   # tags pushed with it start no other workflow: see the README
"""


def apply_workflow() -> str:
    return APPLY_WORKFLOW
