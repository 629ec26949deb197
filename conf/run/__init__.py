"""The primary config of `feedbackgym run` (config.yaml) and its experiment/ group."""
