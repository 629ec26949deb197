"""An agent's context kept in tokens across turns: appended to, never re-tokenised.

The first turn renders the chat messages with the chat template and tokenises them. Every later
turn keeps the tokens the model saw and generated, and appends only the tokens of what is new: the
template's markup that closes the model's reply (minus the end token the model already produced),
the messages the environment added since, and the generation prompt. The text to append is found by
rendering the conversation with a placeholder for the model's latest reply and cutting at it, so
whatever the environment echoes of the reply (trimmed, or not at all) the context keeps exactly the
generated tokens.

The context is rebuilt from the current messages, and the reason recorded, when appending is not
possible:

- the environment's view no longer starts with what the model already saw (an observation window
  that dropped old messages, an "[n earlier messages omitted]" line, a view cleared between games);
- the chat template renders earlier turns differently once later ones exist (templates that strip
  the reasoning of past assistant turns do this), or does not put the reply right after the
  generation prompt.

Prompt templates (``prompt``/``system_prompt``, the litellm agent's) apply as there: the system
message is rewritten, consecutive messages of one role are merged, and the template's suffix ends
each new user message; unlike the litellm agent, which resends the whole history each call, a user
message keeps the suffix it had when it was new.

A reply prefix (``reply_prefix``, e.g. ``"Answer: ("``) is text the model's reply starts with, written
into the context after the generation prompt (an assistant prefill): its tokens count as the
environment's (mask 0, never trained on), the model continues from it, and the reply the agent sends
is the prefix plus the completion. Small models that ignore format instructions answer in format
this way.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from feedbackgym.agents.llm.agent import chat_message

Messages = list[dict[str, str]]
_PLACEHOLDER = "\u2063feedbackgym-reply\u2063"


class TokenContext:
    """One agent's context in one episode (see the module docstring)."""

    def __init__(self, tokenizer: Any, build_messages: Callable[[Sequence[Mapping[str, str]]], Messages], suffix: str | None,
                 chat_template: str | None = None, reply_prefix: str = "") -> None:
        self.tokenizer = tokenizer
        self.build_messages = build_messages
        self.suffix = suffix
        self.chat_template = chat_template
        self.reply_prefix = reply_prefix
        # Tokenised on its own, after the generation prompt, on every turn alike: the prefix's tokens
        # are the same in every turn and never merge with the template's markup before them.
        self.prefix_ids: list[int] = self.encode(reply_prefix) if reply_prefix else []
        self.reset()

    def reset(self) -> None:
        self.ids: list[int] = []
        self.mask: list[int] = []
        self.segment = -1
        self._raw: Messages = []  # the environment's messages the context covers
        self._built: Messages = []  # the chat messages rendered so far
        self._rendered = ""  # their rendering with the generation prompt: the text the context spells
        self._end_text: str | None = None  # the end token the last completion finished with, as text

    # ------------------------------------------------------------------------- rendering
    def render(self, messages: Messages) -> str:
        options: dict[str, Any] = {"tokenize": False, "add_generation_prompt": True}
        if self.chat_template is not None:
            options["chat_template"] = self.chat_template
        return self.tokenizer.apply_chat_template(messages, **options)

    def encode(self, text: str) -> list[int]:
        # The rendered text carries its own special tokens (BOS, role markers): none added here.
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    # ---------------------------------------------------------------------------- turns
    def prompt(self, raw_messages: Sequence[Any]) -> str | None:
        """Bring the context up to date with the environment's ``raw_messages``; returns why it was
        rebuilt (None when it was extended, or on the first turn)."""
        raw = [chat_message(m) for m in raw_messages]
        if self.segment < 0:
            self._rebuild(raw)
            return None
        reason = self._extend(raw)
        if reason is not None:
            self._rebuild(raw)
        return reason

    def add_completion(self, token_ids: Sequence[int], finished: bool, end_token: int | None) -> None:
        self.ids.extend(token_ids)
        self.mask.extend([1] * len(token_ids))
        self._end_text = self.tokenizer.decode([end_token], skip_special_tokens=False) if finished and end_token is not None else None

    def _rebuild(self, raw: Messages) -> None:
        self._raw = raw
        self._built = self.build_messages(raw)
        self._rendered = self.render(self._built)
        self.ids = self.encode(self._rendered) + self.prefix_ids
        self.mask = [0] * len(self.ids)
        self.segment += 1

    def _extend(self, raw: Messages) -> str | None:
        seen = len(self._raw)
        if raw[:seen] != self._raw:
            return "the environment's view no longer starts with what the model saw (a window dropped messages, or the view was cleared)"
        new = raw[seen:]
        echoed = None
        if new and new[0]["role"] == "assistant":  # the environment's copy of the model's reply
            echoed, new = new[0], new[1:]
        if any(m["role"] == "system" for m in new):
            return "the environment added a system message after the start"
        added = self._merge(new)
        reply_marker = self.reply_prefix + _PLACEHOLDER  # the reply as sent: the prefix, then the completion
        probe = [*self._built, {"role": "assistant", "content": reply_marker}, *added]
        rendered = self.render(probe)
        if not rendered.startswith(self._rendered):
            return "the chat template renders earlier turns differently once later ones exist"
        after = rendered[len(self._rendered) :]
        if not after.startswith(reply_marker):
            return "the chat template does not render the reply right after the generation prompt"
        delta = after[len(reply_marker) :]
        if self._end_text and delta.startswith(self._end_text):
            delta = delta[len(self._end_text) :]  # the model produced the end token itself
        new_ids = self.encode(delta) + self.prefix_ids
        self.ids.extend(new_ids)
        self.mask.extend([0] * len(new_ids))
        reply = echoed["content"] if echoed is not None else ""
        self._raw = raw
        self._built = [*self._built, {"role": "assistant", "content": reply}, *added]
        # The next turn checks its rendering against this one (with the reply as the environment
        # echoed it): a template that rewrites past replies is caught there, and the context rebuilt.
        self._rendered = self.render(self._built)
        return None

    def _merge(self, new: Messages) -> Messages:
        """The environment's new messages as chat turns: one user message (they are all user-side),
        ``Continue.`` when there is none, the template's suffix at the end."""
        contents = [m["content"] for m in new]
        text = "\n\n".join(contents) if contents else "Continue."
        if self.suffix:
            text += "\n" + self.suffix
        return [{"role": "user", "content": text}]
