"""The `opgate` sub-commands, one module each (each exposes `register(subparsers)`)."""
