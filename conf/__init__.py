"""Hydra configs of the ``feedbackgym`` command, in three search-path roots so each app lists only its groups.

- ``conf/common/``: the groups both apps compose: ``env/``, ``task/``, ``agent/``, ``wrapper/``.
- ``conf/run/``: ``feedbackgym run``: ``config.yaml`` and ``experiment/``.
- ``conf/train/``: ``feedbackgym train``: ``train.yaml``, ``training/`` and ``ppo/``.
"""
