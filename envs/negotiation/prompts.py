"""The texts of ``Negotiation-v0``: the paper's prompts per role, openings, feedback messages, tips.

Everything quoted comes from Fu et al. 2023 and its code (FranxYao/GPT-Bargaining@7e6dfc2,
docs/protocols.md section 2), including the code's typos in the feedback message ("your should",
"at at", "additionl"), which the LLMs in the paper read. Fields in braces are filled by the
environment: ``{item}``, ``{cost}``, ``{seller_init}``, ``{buyer_init}``, ``{prev}``,
``{feedback}``, ``{n_suggestions}`` (a number word), ``{transcript}``.

``PROMPTS`` is keyed by role (``seller``, ``buyer``, ``critic``) and then by part; an LLM agent reads
the environment's instructions (built from these) as its system message, so nothing else is needed
for an LLM to play a role. The last paragraph of each player's instructions is ours: it says how
this environment reads offers and acceptances, which the paper left to an LLM moderator.
"""

from __future__ import annotations

SIDES = ("seller", "buyer")

RULES = (
    "How this game is refereed: write every price as $X (for example $15). The last price in your reply "
    "is your offer. To accept the {other}'s standing offer, say 'I accept' (you may repeat the {other}'s "
    "price: 'I accept $X'). A deal is made only when one side accepts the other side's standing offer, or "
    "when your offers meet. To end the negotiation without a deal, say 'I walk away'. Speak only for "
    "yourself: never write the {other}'s lines."
)

PROMPTS: dict[str, dict[str, str]] = {
    "seller": {
        "system": "Now enter the role-playing mode. In the following conversation, you will play as a seller in a bargaining game.",
        "instruction": (
            "Let's play a game. You are a {item} seller bargaining with a buyer. The cost of your {item} is ${cost} "
            "and your starting price is ${seller_init}. Your goal is to sell it to a high price. You should only "
            "respond to your buyer with one short, succinct sentence."
        ),
        "ask": "Hi, how much is the {item}?",  # the buyer's first line, hard-coded in both histories
        "opening": "Hi, this is a good {item} and its price is ${seller_init}",
        "feedback": (
            "Well done in your last round. Here is the feedback from the critic:\n\n{feedback}\n\nNow let's start the "
            "next round. In this round, your should try to improve your negotiation strategy based on the feedback "
            "from the critic. Your goal is to sell the {item} at at higher price than the previous round, i.e., "
            "higher than ${prev}."
        ),
        "acknowledgement": (
            "Sure, I will try to improve my negotiation strategy based on the feedback from the critic. And I will "
            "try to sell it at a higher price (higher than ${prev}) than the previous round."
        ),
    },
    "buyer": {
        "system": "In the following conversation, you will play as a buyer in a bargaining game.",
        "instruction": (
            "Let's play a game. You want to buy a {item} and you are bargaining with a seller. Your goal is to buy it "
            "with a low price, as low as possible. Now enter the conversation mode, You should consider yourself as "
            "the buyer and ALWAYS respond to your seller with one short, succinct sentence ONLY."
        ),
        "ask": "Hi, how much is the {item}?",
        "opening": "Would you consider selling it for ${buyer_init}?",
        "feedback": (
            "Well done in your last round. Here is the feedback from the critic:\n\n{feedback}\n\nNow let's start the "
            "next round. In this round, your should try to improve your negotiation strategy based on the feedback "
            "from the critic. But you are **not allowed** to ask for additionl service. Your goal is to buy the "
            "{item} at at lower price than the previous round, i.e., lower than ${prev}."
        ),
        "acknowledgement": (
            "Sure, I will try to improve my negotiation strategy based on the feedback from the critic. And I will "
            "try to buy it at a lower price (lower than ${prev}) than the previous round."
        ),
    },
    "critic": {
        "system_seller": (
            "Now enter the role-playing mode. In the following conversation, you will play as a coach in a "
            "negotiation game. There will be a seller and a buyer bargaining about a {item}. Your task is to read "
            "the conversation between the seller and the buyer, then provide suggestions to the seller about how "
            "to sell the {item} to a higher price"
        ),
        "system_buyer": (
            "Now enter the role-playing mode. In the following conversation, you will play as a coach in a "
            "negotiation game. There will be a seller and a buyer bargaining about a {item}. Your task is to read "
            "the conversation between the seller and the buyer, then provide suggestions to the buyer about how "
            "to buy the {item} with a lower price"
        ),
        "request_seller": (
            "Read the following conversation between the buyer and the seller, then give {n_suggestions} "
            "suggestions to the seller about how to sell it to a higher price. Your suggestions should meet the "
            "following constraints:\n1. it should not be about the specific price\n2. it should improve the "
            "previous negotiation\n3. try to be generic and insightful\n4. the seller should only sell the {item}, "
            "but not offering additional products or services\n\n{transcript}\n\nNow give {n_suggestions} "
            "suggestions to improve the seller's negotiation strategy: "
        ),
        "request_buyer": (
            "Read the following conversation between the buyer and the seller, then give {n_suggestions} "
            "suggestions to the buyer about how to buy it with a lower price. Your suggestions should meet the "
            "following constraints:\n1. it should not be about the specific price\n2. it should improve the "
            "previous negotiation\n3. try to be generic and insightful\n4. the buyer should only buy one {item}, "
            "not multiple\n\n{transcript}\n\nNow give {n_suggestions} suggestions to improve the buyer's "
            "negotiation strategy: "
        ),
    },
}

# When the previous round ended without a deal there is no price to beat (our wording; the paper's
# code would quote its -1 "price").
NO_PRICE_GOAL = {
    "seller": "Your goal is to sell the {item} at a higher price than before, and to close a deal.",
    "buyer": "Your goal is to buy the {item} at a lower price than before, and to close a deal.",
}

CONSTANT_FEEDBACK = "Nice game. Let's play again. This time, can you do better than the previous round?"

# lib_prompt/human_feedback_seller.txt, verbatim (typos included): the paper's pool of 10 human tips.
HUMAN_TIPS_SELLER: tuple[str, ...] = (
    "Nice game! Let's play again. But in this time, you should be more strategic about your bargaining.",
    "Good game. Let's play again. This time, try to be more persuasive when talking with your buyer.",
    "Let's play again. This time, try to be more aggressive when bargaining. Try staying firm at your price without pissing off the buyer.",
    "Well played. In the next round, try to emphasize the quality of the balloon and sell it at a better price.",
    "Well played. Now think about a better strategy than the previous round and play again.",
    "Nice played. This time, try to persuide the buyer at a higher price with more concrete reasons.",
    "Good game. In the next round you should do your best to improve your bargaining strategy than the previous round.",
    "Let's play again. Last time, you are a bit of soft when bargaining. This time, try to adjust your tone accordingly and try to sell it at a higher price.",
    "Let's play again. You did a good job last time. This time you can do better, try thinking about why the buyer should buy at a higher price.",
    "Nice game. This time, think about your advantages when selling the balloon and try to sell it at a higher price.",
)

# The paper has no human tips for buyers; these mirror the seller's ten, one for one (ours).
HUMAN_TIPS_BUYER: tuple[str, ...] = (
    "Nice game! Let's play again. But in this time, you should be more strategic about your bargaining.",
    "Good game. Let's play again. This time, try to be more persuasive when talking with your seller.",
    "Let's play again. This time, try to be more aggressive when bargaining. Try staying firm at your price without pissing off the seller.",
    "Well played. In the next round, try to point out the flaws of the balloon and buy it at a better price.",
    "Well played. Now think about a better strategy than the previous round and play again.",
    "Nice played. This time, try to persuade the seller to a lower price with more concrete reasons.",
    "Good game. In the next round you should do your best to improve your bargaining strategy than the previous round.",
    "Let's play again. Last time, you are a bit of soft when bargaining. This time, try to adjust your tone accordingly and try to buy it at a lower price.",
    "Let's play again. You did a good job last time. This time you can do better, try thinking about why the seller should sell at a lower price.",
    "Nice game. This time, think about your alternatives when buying the balloon and try to buy it at a lower price.",
)

HUMAN_TIPS = {"seller": HUMAN_TIPS_SELLER, "buyer": HUMAN_TIPS_BUYER}


def fill(template: str, **fields: object) -> str:
    """``str.format`` that leaves unknown ``{names}`` alone, so texts can be filled in stages."""
    out = template
    for key, value in fields.items():
        out = out.replace("{" + key + "}", str(value))
    return out


def money(value: float) -> str:
    """``15.0`` -> ``"15"``, ``15.5`` -> ``"15.50"``: prices as people write them after a ``$``."""
    return f"{value:.0f}" if float(value).is_integer() else f"{value:.2f}"
