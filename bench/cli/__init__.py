"""One module per subcommand; each exposes `NAME`, `HELP`, `add_arguments(parser)` and
`run(args) -> int`. `main.COMMANDS` is the explicit registry (modules imported when needed)."""
