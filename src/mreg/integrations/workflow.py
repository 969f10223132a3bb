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
permissions: {}
concurrency:
  group: mreg-apply
  cancel-in-progress: false
jobs:
  apply:
    runs-on: ubuntu-latest
    permissions:
      contents: write       # push the alias tags
      pull-requests: read   # find the merged PR, recorded in each tag's `request`
    steps:
      - uses: actions/checkout@34e114876b0b11c390a56381ad16ebd13914f8d5 # v4.3.1
        with:
          fetch-depth: 0
          persist-credentials: false
      - uses: actions/setup-python@a26af69be951a213d495a4c3e4e4022e16d87065 # v5.6.0
        with:
          python-version: "3.12"
      - run: pip install "mreg==__MREG_VERSION__"
      - name: Create the tags that merged promotions ask for
        id: apply
        env:
          GITHUB_TOKEN: ${{ github.token }}   # tags pushed with it start no other workflow: see mreg docs/review.md
        # The token reaches git through this step's environment only, never .git/config.
        run: |
          export GIT_CONFIG_COUNT=1 GIT_CONFIG_KEY_0="http.${GITHUB_SERVER_URL}/.extraheader"
          GIT_CONFIG_VALUE_0="AUTHORIZATION: basic $(printf 'x-access-token:%s' "$GITHUB_TOKEN" | base64 -w0)"
          export GIT_CONFIG_VALUE_0
          mreg apply
"""


def apply_workflow() -> str:
    """The workflow, installing exactly the mreg that wrote it (a pinned version, like the pinned actions)."""
    from mreg._version import __version__

    return APPLY_WORKFLOW.replace("__MREG_VERSION__", __version__)
