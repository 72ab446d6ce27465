from clonr.cli import cli

cli()
