"""The primary config of `feedbackgym train` (train.yaml) and its training/ and ppo/ groups."""
