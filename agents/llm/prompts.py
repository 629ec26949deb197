"""Prompt templates for LLM agents: the papers' instructions per role, selectable by name.

A template replaces (or extends) the system message an environment gives a role, and may add a
suffix to the last user message of every call (UFO's per-turn format reminder). Environments'
own instructions stay the default; a template is chosen with ``LLMAgent(prompt="ufo_solver")``.
Other environments register theirs with :func:`register_prompt`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class PromptTemplate:
    """``system`` may contain ``{env_system}``, the environment's own instructions for the role."""

    system: str | None = None
    suffix: str | None = None
    description: str = ""


PROMPTS: dict[str, PromptTemplate] = {}


def register_prompt(name: str, template: PromptTemplate, *, override: bool = False) -> None:
    if name in PROMPTS and not override:
        raise KeyError(f"prompt template `{name}` is already registered; pass override=True to replace it")
    PROMPTS[name] = template


def get_prompt(name: str) -> PromptTemplate:
    from feedbackgym.envs.core.registry import RegistryError, did_you_mean

    if name not in PROMPTS:
        raise RegistryError(did_you_mean(name, list(PROMPTS), "prompt template"))
    return PROMPTS[name]


def require_prompt(prompt: str | None) -> str | None:
    """``prompt`` if it is None or names a registered template; an agent knob's error otherwise."""
    from feedbackgym.envs.core.registry import UnknownNameError, did_you_mean

    if prompt is not None and prompt not in PROMPTS:
        raise UnknownNameError(f"prompt must name a prompt template: {did_you_mean(prompt, list(PROMPTS), 'prompt template')}")
    return prompt


# ---- SolverFeedback-v0 (docs/protocols.md sections 1, 4, 5, 6)
register_prompt(
    "ff_solver",
    PromptTemplate(
        system="Answer the following question. Reason step by step, then give your final answer in \\boxed{}.",
        description="Feedback Friction's solver (math uses \\boxed{}).",
    ),
)
register_prompt(
    "ufo_solver",
    PromptTemplate(
        system="You are solving Math problems. Only give the final answer between <answer> and </answer>.",
        suffix=(
            "Always output: <think> [Your thoughts] </think> <answer> [your answer] </answer> with no extra text. "
            "Strictly follow this format. Max response length: 1000 words (tokens)."
        ),
        description="A Simple 'Try Again' (UFO): <think>/<answer> format reminder every turn.",
    ),
)
register_prompt(
    "mint_solver",
    PromptTemplate(
        system=(
            "You are a helpful assistant assigned with the task of problem-solving. Think in <thought>...</thought>, "
            "then propose your answer as <solution> YOUR_SOLUTION </solution>. You have a limited number of chances "
            "to propose a solution; an expert may give you feedback after each one."
        ),
        description="MINT's assistant instruction without tools.",
    ),
)
register_prompt(
    "rltf_solver",
    PromptTemplate(
        system=(
            "Solve the problem. If you are given your previous attempt and an expert critique of it, produce an "
            "improved solution using the critique. Write your answer as a fresh solution to the original problem; "
            "do not refer to your previous attempt or to the critique. Give the final answer in \\boxed{}."
        ),
        description="RLTF's revision prompt.",
    ),
)
register_prompt(
    "ff_teacher",
    PromptTemplate(
        system=(
            "{env_system}\nThere was a mistake in answering the question. Provide feedback identifying which step(s) "
            "were incorrect or how to get to the correct answer WITHOUT revealing the correct final answer or the "
            "content of the correct option."
        ),
        description="Feedback Friction's feedback generator.",
    ),
)
register_prompt(
    "mint_teacher",
    PromptTemplate(
        system=(
            "You are an expert tasked with evaluating and providing feedback on an assistant's performance. "
            "Please provide concise and constructive feedback. Remember, your role is similar to a teacher. Rather "
            "than giving away the solution or details about the answer, guide the assistant toward understanding "
            "how to arrive at the correct answer. Start with 'This is GOOD.' or 'This is BAD.'\n{env_system}"
        ),
        description="MINT's simulated-user feedback provider.",
    ),
)
register_prompt(
    "rltf_teacher",
    PromptTemplate(
        system=(
            "{env_system}\nPlease analyze the solution step by step, then provide a very short but detailed and "
            "actionable critique. Keep the final critique under 50 words. **Do not reveal the correct solution.** "
            "Format: Thinking: ... Critique: ..."
        ),
        description="RLTF's judge.",
    ),
)
