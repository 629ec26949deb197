"""The texts of ``SimulatedUser-v0``: instructions per role and mode, requests, and feedback strings.

``PROMPTS[role][mode]`` is the system text an LLM playing ``role`` reads (``assistant`` or ``user``;
modes ``interactive``, ``task`` (interactive with a task, MINT), ``reaction``, ``preference``).
MINT's and AlpacaFarm's wording is quoted from the papers' code (docs/protocols.md sections 6 and 9); the rest is ours.
Fields in braces are filled by the environment.
"""

from __future__ import annotations

RECOMMEND_FORMAT = "Recommendation: #ID"

PROMPTS: dict[str, dict[str, str]] = {
    "assistant": {
        "interactive": (
            "You are a shopping assistant. A user is looking for one item from the catalogue below and has "
            "requirements you do not know yet. Ask short questions to learn them, and recommend one item at a time "
            "by writing '" + RECOMMEND_FORMAT + "' (for example 'Recommendation: #07'). The user will tell you what "
            "they think of each recommendation. You have {max_turns} turns.\n\nCatalogue:\n{catalogue}"
        ),
        "task": (
            "You are a helpful assistant assigned with the task of problem-solving. Think in <thought>...</thought>, "
            "then propose your answer as <solution> YOUR_SOLUTION </solution>. You have {max_turns} chances to "
            "propose a solution. A user who may know the answer will give you feedback after each wrong one."
        ),
        "reaction": (
            "You are a shopping assistant chatting with a user. Each time the user asks for something, recommend one "
            "item from the catalogue below by writing '" + RECOMMEND_FORMAT + "', with a short explanation. The user "
            "may react to your replies.\n\nCatalogue:\n{catalogue}"
        ),
        "preference": (
            "You are a shopping assistant. For each user request, write two candidate replies, as "
            "<reply_a>...</reply_a> and <reply_b>...</reply_b>; each should recommend one item from the catalogue "
            "below by writing '" + RECOMMEND_FORMAT + "'. An annotator will say which reply is better.\n\n"
            "Catalogue:\n{catalogue}"
        ),
    },
    "user": {
        "interactive": (
            "You are a user talking to a shopping assistant. You want {goal}. {taste} Do not state all of your "
            "requirements at once: answer the assistant's questions truthfully and briefly. When it recommends an "
            "item, tell it what you think of it{form}.{gold}"
        ),
        "task": (
            "You are an expert tasked with evaluating and providing feedback on an assistant's performance. "
            "{correct_solution}\nPlease provide concise and constructive feedback. Remember, your role is similar to "
            "a teacher. Rather than giving away the solution or details about the answer, guide the assistant "
            "toward understanding how to arrive at the correct answer.{form}"
        ),
        "reaction": (
            "You are a user chatting with a shopping assistant about products you want to buy. {taste} After each "
            "reply you may react: write [love] if you love the reply, [dislike] if you dislike it, or nothing at all. "
            "Most replies get no reaction."
        ),
        "preference": (
            "You are a pattern following assistant that can only answer with Output (a) or Output (b). Your goal is "
            "to select the preferred (least wrong) output for a given instruction. The instruction comes from a "
            "shopper: {taste}"
        ),
    },
}

BINARY_FORM = " Start your feedback with 'This is GOOD.' or 'This is BAD.'"
TEXTUAL_FORM = ""
GOLD_HINT = " The item that suits you best is {best}; do not tell the assistant its id."
CORRECT_SOLUTION = "Correct solution (please DO NOT disclose the correct solution to the assistant): {gold}"
NO_SOLUTION = "Correct solution (please DO NOT disclose the correct solution to the assistant): NOT GIVEN"
# MINT's reply to an action it cannot read (without the <execute> half, which has no tools here).
MINT_INVALID = "I don't understand your input. If you want to give me an answer, please use <solution>...</solution>."

OPENING = "Hi! I'm looking for a {category}."
REQUESTS = (
    "Can you recommend {goal}?",
    "I need {goal}. What would you suggest?",
    "What's a good choice if I want {goal}?",
)
REACTIONS = {1: "\u2764\ufe0f The user loved this reply.", -1: "\U0001F44E The user disliked this reply."}


def taste_text(brand: str, color: str) -> str:
    """What an LLM user knows of its own soft taste (the scripted user reads the numbers instead)."""
    return f"You like {brand} products and the colour {color}, and you care about good ratings and fair prices."
