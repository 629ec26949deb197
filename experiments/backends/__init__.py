"""Where `feedbackgym run` plays its episodes besides this process: ``run.backend=ray`` (``ray_backend``)."""
