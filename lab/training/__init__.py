"""Training: the frozen run config, the stacked model with hand-written BPTT, the training
loop and its recorders."""
