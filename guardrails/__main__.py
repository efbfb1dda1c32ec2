"""``python -m guardrails`` runs the command line."""

from guardrails.cli import main

raise SystemExit(main())
