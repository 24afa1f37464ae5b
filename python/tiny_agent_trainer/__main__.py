"""`python -m tiny_agent_trainer`: the `tat` command."""

from .cli import main

main()
