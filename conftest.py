"""Every test runs isolated: its own HOME and cache, a pinned git identity, no inherited credentials.

The shared fixtures are defined once, in plugin modules under testing/ (never imported into a test
module): testing.fixtures (isolated_env, clock, repo, model_dir, team, live), testing.s3 (s3_server, s3)
and testing.world (world: a team and an attacker).
"""

pytest_plugins = ["testing.fixtures", "testing.s3", "testing.world"]
