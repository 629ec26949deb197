"""Language models inside the process: the ``hf`` agent, batched generation, token-level records.

Importing :mod:`feedbackgym.agents` registers ``hf`` by a lazy entry point; torch and transformers
load only when an ``hf`` agent is built. :mod:`feedbackgym.agents.hf.catalog` and
:mod:`feedbackgym.agents.hf.records` import neither.
"""
