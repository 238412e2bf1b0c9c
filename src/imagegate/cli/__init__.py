"""The command-line interface: argument parsing and the one error boundary."""
