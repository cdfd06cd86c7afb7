"""emf-neuron: AWS neuron-monitor reports in, CloudWatch EMF documents out, under a watchdog."""

__version__ = "0.1.0"
