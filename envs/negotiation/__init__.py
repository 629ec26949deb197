"""``Negotiation-v0``: bargaining with a coaching critic (Fu et al. 2023). See :class:`NegotiationEnv`."""

from feedbackgym.envs.negotiation.env import BUYER, CRITIC, SELLER, NegotiationEnv
from feedbackgym.envs.negotiation.moves import Reading, read_reply
from feedbackgym.envs.negotiation.prompts import CONSTANT_FEEDBACK, HUMAN_TIPS, PROMPTS

__all__ = ["BUYER", "CONSTANT_FEEDBACK", "CRITIC", "HUMAN_TIPS", "PROMPTS", "SELLER", "NegotiationEnv", "Reading", "read_reply"]
