"""Project-wide pytest plugins (keep this file a list of plugin modules)."""

pytest_plugins = ["tests.pg.cluster"]
