"""Hydra config groups shared by `feedbackgym run` and `feedbackgym train`: env, task, agent, wrapper."""
