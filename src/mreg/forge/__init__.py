"""Git hosts that review governed changes (SPEC §7). Imported only by commands that talk to one."""
