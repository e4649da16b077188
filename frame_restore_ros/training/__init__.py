"""Training: paired-frame sampling from video and the training loop."""
