"""World simulator: a deterministic universe of chains, our exchange, its customers and criminals, with ground truth."""
