"""``python -m salesbridge``."""

from salesbridge.cli import main

main()
