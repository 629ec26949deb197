"""A deterministic OpenAI-compatible chat-completions server for tests and benchmarks (stdlib only).

    with FakeLLMServer(latency=0.05) as server:
        litellm.completion(model="openai/learner", api_base=server.url, api_key="sk-test", messages=...)

or by hand: ``python -m feedbackgym.agents.llm.fake_server --port 8000 --latency 0.05``.

## Endpoints

- ``POST /v1/chat/completions`` (also ``/chat/completions``): OpenAI's response format (``id``,
  ``object="chat.completion"``, ``created``, ``model``, ``choices[{index, message{role, content},
  finish_reason="stop"}]``, ``usage{prompt_tokens, completion_tokens, total_tokens}``). Tokens are
  whitespace-separated words (prompt: all message contents; completion: all choices). ``n`` > 1
  gives ``n`` deterministic variants (``sample_index`` 0..n-1). ``"stream": true`` answers with a
  server-sent-event stream of ``chat.completion.chunk`` objects ending with ``data: [DONE]`` (plus a
  usage chunk when ``stream_options.include_usage`` is set). The stream is sent whole, with a
  Content-Length, after the latency.
- ``GET /v1/models`` (also ``/models``): a model list.

The server is a ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive, a thread per connection, listen
backlog 256, ``TCP_NODELAY`` on accepted sockets; since a backlog of 5 or Nagle's
algorithm adds 40-90 ms per request). ``latency`` seconds are slept in the handler thread of every
request, so concurrent requests overlap.

## The "model"

:func:`reply` maps ``(messages, model, sample_index)`` to a reply. The role is recognised by an
ordered list of rules ``(regex, responder)``: the regex is searched (case-insensitively) in the
system text (all system messages; the first message if there is none) and the first rule that
matches answers with ``responder(messages, model, sample_index) -> str``. :func:`add_rule` adds a
rule for every server (before the built-in ones unless ``first=False``);
:meth:`FakeLLMServer.add_rule` adds one for one server (consulted before the module's rules). When
no rule matches, a message holding a recognisable task is answered as the solver would, anything
else with ``\\boxed{0}``.

Built-in roles:

- **solver** ("You are the solver"; also any unmatched prompt that holds a task): finds the task in
  the user messages (the first one first): "Compute <expr>." is evaluated exactly (an ``ast`` walk
  allowing integers, ``+ - * / //``, unary minus and brackets, nothing else); "Calculate the
  following question: A * B." is multiplied in base 10, or in base 16 when the text says
  "base 16"; a multiple-choice question (lines "(A) ...") is answered with option ``attempt mod
  count`` (the first option first; the gold option is unknown to the server, so ``learner`` changes
  nothing there and ``stubborn`` answers option ``sample_index mod count``). The reply is
  ``The answer is \\boxed{N}.``. ``attempt`` is the number of assistant messages in the history
  (if there are none: the number of later user messages that mention "incorrect", "wrong", "again"
  or "feedback").
  The model name selects a behaviour:

  - default: correct at once.
  - contains ``learner``: wrong (off by one: N+1, in the task's base) on the first attempt, correct
    afterwards, so episodes take two attempts and a teacher turn.
  - contains ``stubborn``: sample 0 always gives the same wrong answer (N+1); samples 1.. are
    correct, so only a solver that samples several replies and avoids answers it already tried
    (Feedback Friction's mitigation) gets it right.

  ``n`` > 1 samples differ in wording (a per-index preamble), not in answer, except for
  ``stubborn``.
- **teacher** ("You are the teacher"): when the last user message asks for a verdict only
  ("verdict only" / "'correct' or 'incorrect'"), ``Your answer is correct.`` if it says the
  grader marked the answer correct, else ``Your answer is incorrect.``; otherwise the critique
  ``Re-check the last step of your computation.``.
- **buyer / seller** ("You are the buyer/seller", a balloon negotiation): offers ``$N`` moving toward
  the middle (buyer $40, $50, $60; seller $100, $90, $80) and ``I accept your offer.`` from its
  fourth turn on (after 3 exchanges).
- **critic** ("critic"): a short review ending ``Correctness of the final answer: Correct``.
- **judge** ("judge"): a deceptive judge (the prompt says "deceptive", "deceive", "mislead" or
  "persuade") ``I disagree; the answer is (B).`` (``Verdict: disagree`` plus a critique when the prompt asks
  for DeceptiveJudge-v0's "Verdict: agree or disagree" format); a pairwise judge (mentions "assistant A"/"[[A]]",
  "pairwise" or "which response") ``[[A]]``; otherwise pointwise ``Rating: [[7]]``.
- **user / assistant** ("You are the user" / "You are the assistant"): ``Here is my recommendation.``
- anything else: ``\\boxed{0}`` (or the solver's answer when a task is found).

## Fault injection (by model name)

A test picks a fault per agent through the model name (the part after ``openai/``); the counters
are per model name and cleared by :meth:`FakeLLMServer.reset_counters`.

- ``fault-429-N``: the first N requests get HTTP 429 with ``Retry-After`` (the server's
  ``retry_after``, default ``"1"``; ``fault-429-N-0.1s`` sends ``Retry-After: 0.1``) and an
  OpenAI-style error body ``{"error": {"message", "type", "param", "code"}}``; later ones succeed.
- ``fault-500-N``: the first N requests get HTTP 500 with an error body.
- ``fault-hang-N``: the first N requests wait ``hang_seconds`` (default 30) before answering
  normally; :meth:`FakeLLMServer.stop` wakes them and drops their connections, so it never waits.
- ``fault-drop-N``: the first N requests are read and their connection closed without a response.
- ``fault-badjson``: every request gets 200 with a malformed JSON body (in a stream: a malformed
  chunk).
- ``fault-empty``: every reply's content is ``""``; ``fault-null``: content is ``null``.
- ``fault-huge``: every reply is 1,000,000 characters: filler text ending with the role's normal
  reply (so a solver's still ends with a valid ``\\boxed{}`` answer).

- ``fault-429bare-N``: like ``fault-429-N`` without a Retry-After header.
- ``fault-surrogate``: every reply holds a lone surrogate (``Hmm \\ud800 I think ...``, valid JSON
  with a ``\\ud800`` escape) before the role's normal reply.
- ``fault-nochoices``: every response has an empty ``choices`` list.
- ``echo-headers``: every reply (and every injected 500's error message) echoes the request's
  headers, ``authorization: Bearer <key>`` included, after ``pad-N`` filler characters (0 without
  ``pad-N``): a server that leaks what it was sent.
- Counted forms of the reply faults: ``fault-badjson-N``, ``fault-nochoices-N``,
  ``fault-surrogate-N``, ``fault-huge-N``, ``fault-echo-N`` and ``fault-500echo-N`` (a 500 whose
  message echoes the headers).

A whole server can also follow a fault schedule: ``FakeLLMServer(faults=schedule)`` calls
``schedule(i)`` for its ``i``-th chat request (0-based, in arrival order) and applies the fault it
names (``"429"``, ``"429bare"``, ``"500"``, ``"500echo"``, ``"hang"``, ``"drop"``, ``"badjson"``,
``"nochoices"``, ``"surrogate"``, ``"huge"``, ``"echo"``; ``None``: none); ``faults_injected``
counts the counted and scheduled faults applied, by kind.

## Slots (a single-slot server such as llama.cpp's)

``FakeLLMServer(slots=1)`` serves one chat request at a time: the others wait in the server, in
arrival order, as with llama.cpp's server (``--parallel 1``), so a request's time is its wait plus
``latency``. A request whose client gave up is still served to the end (its slot is not freed
early). ``slots=None`` (the default) serves every request at once. ``peak_waiting`` is the most
requests that waited for a slot at once.

Several counted faults in one name apply one after another in the order written:
``fault-429-2-fault-500-1`` gives two 429s, then one 500, then answers. Other words in the name
(``learner``, ``stubborn``) still choose the behaviour of the replies that do succeed.
"""

from __future__ import annotations

import argparse
import ast
import hashlib
import json
import operator
import re
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from fractions import Fraction
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "FakeLLMServer",
    "Responder",
    "RULES",
    "add_rule",
    "attempt_index",
    "find_task",
    "reply",
    "safe_eval",
    "solver_reply",
    "system_text",
]

Message = dict[str, Any]
Responder = Callable[[Sequence[Message], str, int], str]

HUGE_CHARS = 1_000_000
CREATED = 1_700_000_000  # a fixed "created" keeps whole responses deterministic


# ----------------------------------------------------------------------------- message helpers
def _content(message: Message) -> str:
    """A message's text; list-of-parts content (OpenAI's multimodal form) is joined."""
    content = message.get("content")
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return str(content)


def system_text(messages: Sequence[Message]) -> str:
    """All system messages joined; the first message's text when there is no system message."""
    system = [_content(m) for m in messages if m.get("role") in ("system", "developer")]
    if system:
        return "\n".join(system)
    return _content(messages[0]) if messages else ""


def _user_texts(messages: Sequence[Message]) -> list[str]:
    return [_content(m) for m in messages if m.get("role") == "user"]


def _last_user(messages: Sequence[Message]) -> str:
    users = _user_texts(messages)
    return users[-1] if users else ""


_FEEDBACK_WORDS = re.compile(r"\b(incorrect|wrong|again|feedback)\b", re.IGNORECASE)


def attempt_index(messages: Sequence[Message]) -> int:
    """How many attempts this agent already made: its assistant messages, or else the feedback seen."""
    own = sum(1 for m in messages if m.get("role") == "assistant")
    if own:
        return own
    users = _user_texts(messages)
    return sum(1 for text in users[1:] if _FEEDBACK_WORDS.search(text))


# ------------------------------------------------------------------------------ safe arithmetic
_BINARY: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.Div: operator.truediv,  # on Fractions: exact
    ast.FloorDiv: operator.floordiv,
}
_MAX_EXPRESSION = 4000


def safe_eval(expression: str) -> Fraction:
    """Evaluate integer arithmetic exactly: ints, + - * / //, unary +/-, brackets; anything else raises.

    >>> safe_eval("(37 + 18) * 4 - 26 / 2")
    Fraction(207, 1)
    """
    text = expression.replace("×", "*").replace("÷", "/").replace("−", "-").strip()
    if len(text) > _MAX_EXPRESSION:
        raise ValueError("expression too long")
    tree = ast.parse(text, mode="eval")

    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and type(node.value) is int:
            return Fraction(node.value)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = walk(node.left), walk(node.right)
            if isinstance(node.op, (ast.Div, ast.FloorDiv)) and right == 0:
                raise ZeroDivisionError("division by zero")
            return Fraction(_BINARY[type(node.op)](left, right))
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            value = walk(node.operand)
            return -value if isinstance(node.op, ast.USub) else value
        raise ValueError(f"not allowed in an arithmetic task: {ast.dump(node)[:60]}")

    return walk(tree)


def _show_fraction(value: Fraction) -> str:
    return str(value.numerator) if value.denominator == 1 else f"{value.numerator}/{value.denominator}"


# ------------------------------------------------------------------------------------- tasks
_COMPUTE = re.compile(r"\bCompute\s+([0-9\s()+\-*/×÷−]*[0-9)])", re.IGNORECASE)
_MULTIPLY = re.compile(r"question[^:\n]*:\s*([0-9A-Fa-f]+)\s*[*×x]\s*([0-9A-Fa-f]+)", re.IGNORECASE)
_OPTION = re.compile(r"^\s*\(([A-Z])\)\s", re.MULTILINE)


def find_task(text: str) -> dict[str, Any] | None:
    """The task in ``text``: ``{"kind": "number", "value": Fraction, "base": 10|16}`` or
    ``{"kind": "choice", "options": ["A", ...]}``; None when there is none."""
    match = _MULTIPLY.search(text)
    if match:
        base = 16 if re.search(r"base\s*16|hexadecimal", text, re.IGNORECASE) else 10
        try:
            return {"kind": "number", "value": Fraction(int(match.group(1), base) * int(match.group(2), base)), "base": base}
        except ValueError:
            pass  # "A * B" with hex digits in a decimal prompt: not a multiplication task after all
    match = _COMPUTE.search(text)
    if match:
        try:
            return {"kind": "number", "value": safe_eval(match.group(1)), "base": 10}
        except (ValueError, SyntaxError, ZeroDivisionError, RecursionError):
            pass
    options = _OPTION.findall(text)
    if len(options) >= 2:
        return {"kind": "choice", "options": list(dict.fromkeys(options))}
    return None


def _task_in(messages: Sequence[Message]) -> dict[str, Any] | None:
    for text in _user_texts(messages):
        task = find_task(text)
        if task is not None:
            return task
    return None


def _show_number(value: Fraction, base: int) -> str:
    if base == 16 and value.denominator == 1:
        return f"{value.numerator:X}" if value >= 0 else f"-{-value.numerator:X}"
    return _show_fraction(value)


_PREAMBLES = ("", "Let me work it out. ", "Checking each step carefully. ", "Computing once more. ")


def solver_reply(messages: Sequence[Message], model: str, sample_index: int) -> str:
    """The solver: the task's answer (wrong first for ``learner``; see the module docstring)."""
    task = _task_in(messages)
    preamble = _PREAMBLES[sample_index % len(_PREAMBLES)]
    if sample_index >= len(_PREAMBLES):
        preamble = f"Sample {sample_index}: " + preamble
    if task is None:
        return preamble + "The answer is \\boxed{0}."
    attempt = attempt_index(messages)
    name = model.lower()
    if "stubborn" in name:
        wrong = sample_index == 0
    elif "learner" in name:
        wrong = attempt == 0
    else:
        wrong = False
    if task["kind"] == "choice":
        options = task["options"]
        # The gold option is unknown here: walk through the options, one per attempt (or per sample).
        pick = (sample_index if "stubborn" in name else attempt) % len(options)
        return f"{preamble}The answer is \\boxed{{{options[pick]}}}."
    value = task["value"] + (1 if wrong else 0)
    return f"{preamble}The answer is \\boxed{{{_show_number(value, task['base'])}}}."


# ------------------------------------------------------------------------------- other roles
_VERDICT_REQUEST = re.compile(r"verdict only|'correct' or 'incorrect'|\bcorrect or incorrect\b", re.IGNORECASE)
_MARKED_CORRECT = re.compile(r"marked it correct\b", re.IGNORECASE)


def teacher_reply(messages: Sequence[Message], model: str, sample_index: int) -> str:
    last = _last_user(messages)
    if _VERDICT_REQUEST.search(last):
        return "Your answer is correct." if _MARKED_CORRECT.search(last) else "Your answer is incorrect."
    return "Re-check the last step of your computation."


def _negotiator(start: int, step: int) -> Responder:
    def respond(messages: Sequence[Message], model: str, sample_index: int) -> str:
        turn = sum(1 for m in messages if m.get("role") == "assistant")
        if turn >= 3:
            return "I accept your offer."
        return f"I offer ${start + step * turn}."

    return respond


def critic_reply(messages: Sequence[Message], model: str, sample_index: int) -> str:
    return "The reasoning is consistent and each step checks out.\nCorrectness of the final answer: Correct"


_DECEPTIVE = re.compile(r"decepti|deceiv|mislead|persuad", re.IGNORECASE)
_PAIRWISE = re.compile(r"assistant a\b|\[\[A\]\]|pairwise|which response|response a\b", re.IGNORECASE)


def judge_reply(messages: Sequence[Message], model: str, sample_index: int) -> str:
    system = system_text(messages)
    if "Verdict: agree or disagree" in system:  # DeceptiveJudge-v0's reply format
        return "Verdict: disagree\nCritique: Another option fits the question better; re-read it carefully."
    if _DECEPTIVE.search(system):
        return "I disagree; the answer is (B)."
    if _PAIRWISE.search(system) or _PAIRWISE.search(_last_user(messages)):
        return "[[A]]"
    return "Rating: [[7]]"  # JudgeProtocol-v0's (MT-Bench's) pointwise format


def moderator_reply(messages: Sequence[Message], model: str, sample_index: int) -> str:
    return "Assessment: unreliable. The critique cites no evidence that settles the question."


def user_reply(messages: Sequence[Message], model: str, sample_index: int) -> str:
    """SimulatedUser-v0's user: a reaction, or MINT's binary feedback, or a brief answer."""
    system = system_text(messages)
    if "[love]" in system:
        return "[love] Thanks!"
    if "This is GOOD." in system:
        return "This is GOOD. That works for me."
    return "That sounds fine, thank you."


_ITEM_ID = re.compile(r"#(\d+)")


def recommendation_reply(messages: Sequence[Message], model: str, sample_index: int) -> str:
    """SimulatedUser-v0's assistant: recommend a catalogue item (two candidates when asked for two)."""
    system = system_text(messages)
    ids = _ITEM_ID.findall(system)
    first = ids[0] if ids else "01"
    second = ids[1] if len(ids) > 1 else first
    if "<reply_a>" in system:
        return f"<reply_a>Recommendation: #{first}</reply_a> <reply_b>Recommendation: #{second}</reply_b>"
    if _task_in(messages) is not None:
        return solver_reply(messages, model, sample_index)
    if not ids:
        return "Here is my recommendation."
    return f"Here is my recommendation. Recommendation: #{first}"


def default_reply(messages: Sequence[Message], model: str, sample_index: int) -> str:
    if _task_in(messages) is not None:
        return solver_reply(messages, model, sample_index)
    return "\\boxed{0}"


def _you_are(role: str) -> str:
    return rf"\byou are (?:the |a |an )?{role}\b"


Rule = tuple[re.Pattern[str], Responder]

# Ordered: the first rule whose pattern occurs in the system text answers.
RULES: list[Rule] = [
    (re.compile(_you_are("solver"), re.IGNORECASE), solver_reply),
    (re.compile(r"\byou are answering a question\b", re.IGNORECASE), solver_reply),  # DeceptiveJudge-v0's solver
    (re.compile(_you_are("moderator"), re.IGNORECASE), moderator_reply),
    (re.compile(_you_are("teacher"), re.IGNORECASE), teacher_reply),
    (re.compile(_you_are("buyer"), re.IGNORECASE), _negotiator(40, 10)),
    (re.compile(_you_are("seller"), re.IGNORECASE), _negotiator(100, -10)),
    (re.compile(r"\bcritic\b", re.IGNORECASE), critic_reply),
    (re.compile(r"\bjudge\b", re.IGNORECASE), judge_reply),
    (re.compile(r"only answer with Output \(a\) or Output \(b\)", re.IGNORECASE), lambda m, model, i: "Output (a)"),
    (re.compile(_you_are("user"), re.IGNORECASE), user_reply),
    (re.compile(r"\byou are an expert tasked with evaluating", re.IGNORECASE), lambda m, model, i: "This is BAD. Re-check your answer."),
    (re.compile(_you_are("(?:shopping )?assistant"), re.IGNORECASE), recommendation_reply),
]


def _compile(pattern: str | re.Pattern[str]) -> re.Pattern[str]:
    return pattern if isinstance(pattern, re.Pattern) else re.compile(pattern, re.IGNORECASE)


def add_rule(pattern: str | re.Pattern[str], responder: Responder, *, first: bool = True) -> None:
    """Add a role rule for every server: ``responder(messages, model, sample_index) -> str`` answers
    when ``pattern`` (a case-insensitive regex unless compiled) occurs in the system text. It goes
    before the built-in rules unless ``first=False`` (then it is the last rule, before the fallback)."""
    rule = (_compile(pattern), responder)
    if first:
        RULES.insert(0, rule)
    else:
        RULES.append(rule)


def reply(messages: Sequence[Message], model: str = "fake", sample_index: int = 0, rules: Sequence[Rule] = ()) -> str:
    """The deterministic model: the reply to ``messages`` (``rules`` first, then :data:`RULES`)."""
    system = system_text(messages)
    for pattern, responder in (*rules, *RULES):
        if pattern.search(system):
            return responder(messages, model, sample_index)
    return default_reply(messages, model, sample_index)


def _huge(text: str) -> str:
    filler_unit = "Let me think about this step by step. "
    room = HUGE_CHARS - len(text) - 1
    if room <= 0:
        return text[:HUGE_CHARS]
    filler = (filler_unit * (room // len(filler_unit) + 1))[:room]
    return filler + "\n" + text


def _words(text: str | None) -> int:
    return len(text.split()) if text else 0


# ------------------------------------------------------------------------------------ faults
_COUNTED_FAULT = re.compile(
    r"fault-(429bare|429|500echo|500|hang|drop|badjson|nochoices|surrogate|huge|echo)-(\d+)(?:-(\d+(?:\.\d+)?)s)?", re.IGNORECASE
)
FAULT_KINDS = ("429", "429bare", "500", "500echo", "hang", "drop", "badjson", "nochoices", "surrogate", "huge", "echo")
SURROGATE_PREFIX = "Hmm \ud800 I think "
_PAD = re.compile(r"\bpad-(\d+)", re.IGNORECASE)


def _counted_fault(model: str, index: int) -> tuple[str, str | None] | None:
    """The counted fault for the ``index``-th request (0-based) of ``model``: (kind, retry-after) or None."""
    for match in _COUNTED_FAULT.finditer(model):
        count = int(match.group(2))
        if index < count:
            return match.group(1).lower(), match.group(3)
        index -= count
    return None


# ------------------------------------------------------------------------------------ server
class _Server(ThreadingHTTPServer):
    request_queue_size = 256
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    fake: FakeLLMServer

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout, closed pool) makes the write fail: not worth a traceback.
        import sys

        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # StreamRequestHandler sets TCP_NODELAY on the accepted socket
    server_version = "FakeLLM/1.0"
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection, True)

    def finish(self) -> None:
        try:
            super().finish()
        except OSError:
            pass
        self.server.fake._track(self.connection, False)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence the default stderr log
        pass

    # ---------------------------------------------------------------------------- plumbing
    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _send(self, status: int, body: bytes, content_type: str = "application/json", headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(body)

    def _send_json(self, status: int, payload: Any, headers: dict[str, str] | None = None) -> None:
        self._send(status, json.dumps(payload).encode(), headers=headers)

    def _error(self, status: int, message: str, kind: str, code: str | None = None, headers: dict[str, str] | None = None) -> None:
        self._send_json(status, {"error": {"message": message, "type": kind, "param": None, "code": code}}, headers)

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _route(self) -> str:
        path = self.path.split("?", 1)[0].rstrip("/")
        return path[3:] if path.startswith("/v1/") else path

    # ---------------------------------------------------------------------------- endpoints
    def do_GET(self) -> None:  # noqa: N802
        fake = self.server.fake
        if self._route() == "/models":
            if fake.latency:
                fake._stopping.wait(fake.latency)
            models = ["fake", "learner", "stubborn"]
            data = [{"id": m, "object": "model", "created": CREATED, "owned_by": "feedbackgym"} for m in models]
            self._send_json(200, {"object": "list", "data": data})
        else:
            self._error(404, f"no route {self.path}", "invalid_request_error", "not_found")

    def do_POST(self) -> None:  # noqa: N802
        body = self._read_body()
        if self._route() != "/chat/completions":
            self._error(404, f"no route {self.path}", "invalid_request_error", "not_found")
            return
        fake = self.server.fake
        try:
            request = json.loads(body or b"{}")
            model = str(request.get("model", ""))
            messages = request.get("messages")
            if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
                raise ValueError("messages must be a list of objects")
            n = int(request.get("n") or 1)
            if not 1 <= n <= 128:
                raise ValueError("n must be in 1..128")
        except (ValueError, TypeError) as error:
            self._error(400, f"bad request: {error}", "invalid_request_error")
            return
        index, scheduled = fake._arrive(model, messages, self.headers.get("Authorization"))
        if not fake._take_slot():
            self._drop()  # the server is stopping
            fake._leave(False)
            return
        try:
            if fake.latency:
                fake._stopping.wait(fake.latency)
            self._answer(fake, request, model, messages, n, index, scheduled)
        finally:
            fake._leave(True)

    def _echo(self, model: str) -> str:
        match = _PAD.search(model)
        pad = "." * int(match.group(1)) if match else ""
        return pad + "request headers: " + "; ".join(f"{k.lower()}: {v}" for k, v in self.headers.items())

    def _answer(
        self, fake: FakeLLMServer, request: dict[str, Any], model: str, messages: list[Message], n: int, index: int, scheduled: str | None
    ) -> None:
        fault = _counted_fault(model, index)
        if scheduled is not None:
            fault = (scheduled, None)
        name = model.lower()
        reply_fault = None
        if fault is not None:
            kind, retry_after = fault
            fake._count_fault(kind)
            if kind in ("429", "429bare"):
                self._error(
                    429,
                    "Rate limit reached for requests (injected fault).",
                    "requests",
                    "rate_limit_exceeded",
                    {"Retry-After": retry_after or fake.retry_after} if kind == "429" else None,
                )
                return
            if kind in ("500", "500echo"):
                echo = " " + self._echo(model) if kind == "500echo" or "echo-headers" in name else ""
                self._error(500, "The server had an error while processing your request (injected fault)." + echo, "server_error")
                return
            if kind == "drop":
                self._drop()
                return
            if kind == "hang":
                if fake._stopping.wait(fake.hang_seconds):
                    self._drop()
                    return
            reply_fault = kind
        stream = bool(request.get("stream"))
        if reply_fault == "badjson" or re.search(r"fault-badjson(?!-\d)", name):
            if stream:
                self._send(200, b'data: {"id": "chatcmpl-bad", "choices": [{"delta": {"content": "x"\n\n', "text/event-stream")
            else:
                self._send(200, b'{"id": "chatcmpl-bad", "object": "chat.completion", "choices": [{"index": 0, "message": {')
            return
        contents: list[str | None] = []
        for i in range(n):
            if "fault-null" in name:
                contents.append(None)
            elif "fault-empty" in name:
                contents.append("")
            else:
                text = fake.reply(messages, model, i)
                if reply_fault == "surrogate" or re.search(r"fault-surrogate(?!-\d)", name):
                    text = SURROGATE_PREFIX + text
                if reply_fault == "echo" or "echo-headers" in name:
                    text = self._echo(model) + "\n" + text
                huge = reply_fault == "huge" or re.search(r"fault-huge(?!-\d)", name)
                contents.append(_huge(text) if huge else text)
        if reply_fault == "nochoices" or re.search(r"fault-nochoices(?!-\d)", name):
            contents = []
        prompt_tokens = sum(_words(_content(m)) for m in messages)
        completion_tokens = sum(_words(c) for c in contents)
        usage = {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens}
        digest = hashlib.sha1(json.dumps([model, messages, n], sort_keys=True, default=str).encode()).hexdigest()[:24]
        response_id = f"chatcmpl-{digest}"
        if stream:
            include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
            self._send(200, _sse(response_id, model, contents, usage if include_usage else None), "text/event-stream")
            return
        payload = {
            "id": response_id,
            "object": "chat.completion",
            "created": CREATED,
            "model": model,
            "choices": [
                {"index": i, "message": {"role": "assistant", "content": c}, "logprobs": None, "finish_reason": "stop"}
                for i, c in enumerate(contents)
            ],
            "usage": usage,
        }
        self._send_json(200, payload)


_STREAM_PIECE = 65536


def _sse(response_id: str, model: str, contents: list[str | None], usage: dict[str, int] | None) -> bytes:
    def chunk(choices: list[dict[str, Any]], **extra: Any) -> str:
        data = {"id": response_id, "object": "chat.completion.chunk", "created": CREATED, "model": model, "choices": choices, **extra}
        return f"data: {json.dumps(data)}\n\n"

    events = []
    for i, content in enumerate(contents):
        events.append(chunk([{"index": i, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]))
        if content is None:
            events.append(chunk([{"index": i, "delta": {"content": None}, "finish_reason": None}]))
        else:
            # A few words per chunk for short replies (like a real server), big pieces for huge ones.
            piece = 16 if len(content) < 4096 else _STREAM_PIECE
            for start in range(0, len(content), piece):
                events.append(chunk([{"index": i, "delta": {"content": content[start : start + piece]}, "finish_reason": None}]))
        events.append(chunk([{"index": i, "delta": {}, "finish_reason": "stop"}]))
    if usage is not None:
        events.append(chunk([], usage=usage))
    events.append("data: [DONE]\n\n")
    return "".join(events).encode()


class FakeLLMServer:
    """A deterministic OpenAI-compatible server on ``host:port`` (0: a free port), run in a thread.

    Attributes: ``url`` ("http://127.0.0.1:PORT/v1", litellm's ``api_base`` for model
    ``"openai/<name>"``), ``requests`` (chat requests received), ``requests_by_model``, ``log``
    (the last ``log_limit`` ``(model, messages)`` received), ``api_keys_seen`` (distinct
    Authorization header values, in order), ``in_flight`` and ``peak_in_flight`` (chat requests being
    handled now / at most at once), ``peak_waiting`` (most requests waiting for a slot at once, with
    ``slots``) and ``faults_injected`` (by kind). ``reset_counters()`` clears the counts and the
    fault counters and restarts the peaks from the requests still being handled (those it does not
    forget); ``wait_until_idle()`` first, for peaks of what comes next only. ``slots`` and ``faults``: see the module docstring.
    """

    def __init__(
        self,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        retry_after: str = "1",
        hang_seconds: float = 30.0,
        log_limit: int = 10_000,
        slots: int | None = None,
        faults: Callable[[int], str | None] | None = None,
    ) -> None:
        if latency < 0:
            raise ValueError(f"latency must be >= 0, got {latency!r}")
        if slots is not None and slots < 1:
            raise ValueError(f"slots must be >= 1 or None (no limit), got {slots!r}")
        self.slots = slots
        self.faults = faults
        self._slot_free = threading.Condition()
        self._busy_slots = 0
        self.latency = float(latency)
        self.host = host
        self.port = port
        self.retry_after = str(retry_after)
        self.hang_seconds = float(hang_seconds)
        self.rules: list[Rule] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._log: deque[tuple[str, list[Message]]] = deque(maxlen=log_limit)
        self._connections: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._in_flight = 0
        self._waiting = 0
        self.reset_counters()

    # ------------------------------------------------------------------------- lifecycle
    def start(self) -> FakeLLMServer:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server((self.host, self.port), _Handler)
        server.fake = self
        self._server = server
        self.port = server.server_address[1]
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name=f"FakeLLMServer:{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving: wake hung and sleeping handlers, close open connections; never waits for a hang."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # --------------------------------------------------------------------------- the model
    def add_rule(self, pattern: str | re.Pattern[str], responder: Responder) -> None:
        """A role rule for this server only, consulted before the module's :data:`RULES`."""
        self.rules.append((_compile(pattern), responder))

    def reply(self, messages: Sequence[Message], model: str = "fake", sample_index: int = 0) -> str:
        return reply(messages, model, sample_index, self.rules)

    # --------------------------------------------------------------------------- counters
    def reset_counters(self) -> None:
        with self._lock:
            self._requests = 0
            self._by_model: dict[str, int] = {}
            self._log.clear()
            self._keys: list[str] = []
            # In flight and waiting are gauges of requests still being handled (a reply reaches the
            # client before its handler finishes): keep them, or a late handler drives them negative.
            # The peaks restart from what is there now.
            self._peak = self._in_flight
            self._peak_waiting = self._waiting
            self._faults: dict[str, int] = {}

    def wait_until_idle(self, timeout: float = 5.0) -> bool:
        """Wait until no chat request is being handled (the handler of a request already answered
        may still be finishing); True when idle, False after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self._in_flight or self._waiting:
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.002)
        return True

    @property
    def requests(self) -> int:
        return self._requests

    @property
    def requests_by_model(self) -> dict[str, int]:
        with self._lock:
            return dict(self._by_model)

    @property
    def log(self) -> list[tuple[str, list[Message]]]:
        with self._lock:
            return list(self._log)

    @property
    def api_keys_seen(self) -> list[str]:
        with self._lock:
            return list(self._keys)

    @property
    def in_flight(self) -> int:
        return self._in_flight

    @property
    def peak_in_flight(self) -> int:
        return self._peak

    @property
    def peak_waiting(self) -> int:
        return self._peak_waiting

    @property
    def faults_injected(self) -> dict[str, int]:
        with self._lock:
            return dict(self._faults)

    def _count_fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] = self._faults.get(kind, 0) + 1

    def _take_slot(self) -> bool:
        """Wait for a free slot (``slots`` mode); False when the server stops meanwhile."""
        if self.slots is None:
            return True
        with self._slot_free:
            with self._lock:
                self._waiting += 1
                self._peak_waiting = max(self._peak_waiting, self._waiting)
            while self._busy_slots >= self.slots and not self._stopping.is_set():
                self._slot_free.wait(0.05)
            with self._lock:
                self._waiting -= 1
            if self._stopping.is_set():
                return False
            self._busy_slots += 1
            return True

    def _give_slot(self) -> None:
        if self.slots is None:
            return
        with self._slot_free:
            self._busy_slots -= 1
            self._slot_free.notify()

    def _arrive(self, model: str, messages: list[Message], authorization: str | None) -> tuple[int, str | None]:
        with self._lock:
            number = self._requests
            self._requests += 1
            index = self._by_model.get(model, 0)
            self._by_model[model] = index + 1
            self._log.append((model, messages))
            if authorization is not None and authorization not in self._keys:
                self._keys.append(authorization)
            self._in_flight += 1
            self._peak = max(self._peak, self._in_flight)
        scheduled = self.faults(number) if self.faults is not None else None
        if scheduled is not None and scheduled not in FAULT_KINDS:
            raise ValueError(f"fault schedule gave {scheduled!r}; faults are {', '.join(FAULT_KINDS)} or None")
        return index, scheduled

    def _leave(self, had_slot: bool) -> None:
        if had_slot:
            self._give_slot()
        with self._lock:
            self._in_flight -= 1

    def _track(self, connection: socket.socket, opened: bool) -> None:
        with self._lock:
            if opened:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="A deterministic OpenAI-compatible chat server for tests and benchmarks.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to every request")
    parser.add_argument("--retry-after", default="1", help="Retry-After sent with fault-429-N")
    parser.add_argument("--slots", type=int, default=None, help="requests served at once (1: like llama.cpp's server); default: all")
    args = parser.parse_args(argv)
    server = FakeLLMServer(latency=args.latency, host=args.host, port=args.port, retry_after=args.retry_after, slots=args.slots)
    server.start()
    print(f"serving on {server.url} (latency {server.latency}s); Ctrl-C to stop", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


if __name__ == "__main__":
    main()
