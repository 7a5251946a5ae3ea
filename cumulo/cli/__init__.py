"""The ``cumulo`` command-line tool (entry point: :func:`cumulo.cli.main.main`)."""
