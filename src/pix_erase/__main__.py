"""`python -m pix_erase` runs the CLI."""

from pix_erase.cli import main

main()
