"""LLM agents through litellm. litellm itself is imported only when a model is first called."""

from feedbackgym.agents.llm.agent import LLMAgent, LLMCallError
from feedbackgym.agents.llm.cache import ResponseCache
from feedbackgym.agents.llm.prompts import PROMPTS, PromptTemplate, register_prompt
from feedbackgym.agents.llm.retry import RetryPolicy

__all__ = ["LLMAgent", "LLMCallError", "PROMPTS", "PromptTemplate", "ResponseCache", "RetryPolicy", "register_prompt"]
