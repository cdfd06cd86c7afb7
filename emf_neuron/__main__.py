"""Entry point for ``python -m emf_neuron``; only turns main()'s return value into the exit code."""

from emf_neuron.cli import main

raise SystemExit(main())
