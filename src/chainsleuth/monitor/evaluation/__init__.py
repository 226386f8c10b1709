"""Detection-quality evaluation: AMLSim, the simulator's ground truth, Elliptic and AMLworld loaders/protocols."""
