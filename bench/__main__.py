"""`python -m bench` is `rtbench`."""

from bench.cli.main import main

raise SystemExit(main())
