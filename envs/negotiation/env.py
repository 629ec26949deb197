"""``Negotiation-v0``: a buyer and a seller bargain over a series of games; a critic coaches one side."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from feedbackgym.envs.core.base import ENV, MAX_TURNS, TurnBasedTextEnv
from feedbackgym.envs.core.checks import (
    ArgumentError,
    fail,
    require_bool,
    require_choice,
    require_float,
    require_int,
    require_text,
)
from feedbackgym.envs.core.feedback import FeedbackEvent, FeedbackLevel, Verdict
from feedbackgym.envs.dialogue import number_word
from feedbackgym.envs.negotiation.moves import Reading, read_reply
from feedbackgym.envs.negotiation.prompts import (
    CONSTANT_FEEDBACK,
    HUMAN_TIPS,
    NO_PRICE_GOAL,
    PROMPTS,
    RULES,
    fill,
    money,
)

SELLER, BUYER, CRITIC = "seller_0", "buyer_0", "critic_0"
AGENT_OF = {"seller": SELLER, "buyer": BUYER}
SIDE_OF = {SELLER: "seller", BUYER: "buyer"}
OTHER_SIDE = {"seller": "buyer", "buyer": "seller"}
FEEDBACK_SOURCES = ("critic", "human_pool", "constant", "none")
CRITIC_HISTORIES = ("full", "last")
NO_VALUE = -1.0  # numeric fields use -1 for "no offer" / "no price yet"
MAX_PRICE = 1e6  # prices, costs and values; far above any game, low enough to keep rewards finite
MAX_SUGGESTIONS = 10  # the human pool has 10 tips per side
# The critic's prompts call it the coach; the coached side reads it in the paper's message.
_PLAYER_FRAMES = ("Coach:", "Here is the feedback from the critic")
_CRITIC_FRAMES = _PLAYER_FRAMES[1:]
_PLAYERS = (SELLER, BUYER)
_CRITIC_READS = frozenset(("move", "prompt", "feedback"))  # the kinds of message the critic's transcript quotes


@dataclass
class Game:
    """One negotiation of the series: its moves and how it ended."""

    index: int
    moves: list[dict[str, Any]] = field(default_factory=list)
    price: float | None = None
    reason: str = ""  # accepted | offers_met | walked_away | out_of_rounds | stalled
    closed_by: str | None = None  # the side whose move closed the deal

    @property
    def deal(self) -> bool:
        return self.price is not None

    def summary(self) -> dict[str, Any]:
        return {"index": self.index, "deal": self.deal, "price": self.price, "reason": self.reason, "closed_by": self.closed_by,
                "moves": list(map(dict.copy, self.moves))}  # each move copied, as dict(move) would


class NegotiationEnv(TurnBasedTextEnv):
    """A seller and a buyer bargain over an item in a series of games; a critic coaches one side between games.

    The protocol of Fu et al. 2023, "Improving Language Model Negotiation with Self-Play and
    In-Context Learning from AI Feedback" (docs/protocols.md section 2): a balloon that cost the seller
    $8, fixed openings ($20 from the seller, $10 from the buyer), up to 10 exchanges per game, and
    five games per episode. After each game but the last, the critic reads the coached side's
    history and gives three suggestions; they reach that side in the paper's message ("Well done
    in your last round. Here is the feedback from the critic: ... higher than $16."), while the
    rival is reset and starts every game afresh.

    ## Agents

    | id | role |
    |---|---|
    | `seller_0` | sells the item; wants a high price |
    | `buyer_0` | buys it; wants a low price |
    | `critic_0` | coaches the `coached` side between games (only asked when `feedback_source="critic"`) |

    Turn order in a game: the fixed openings are posted for both sides (the buyer asks the price,
    the seller says $20, and, when the seller moves first, the buyer offers $10), then the side
    `who_first` and the other alternate, `n_round` moves each at most. Between games the critic
    moves once.

    ## Deals

    The environment decides deals; no text can close one for the other side.

    - The last price in a reply (`$X`, or "X dollars") is the speaker's standing offer.
    - An acceptance ("I accept", "Deal!", "It's a deal", "Agreed") accepts the *other* side's
      standing offer: the deal is at the price that side offered. Accepting with a different price
      in the reply is ambiguous and an invalid move.
    - Offers that meet or cross (the seller asks no more than the buyer bids, within
      `price_tolerance`) close the deal at the standing offer of the side that did not just move.
    - "I walk away" (or "No deal.") ends the game without a deal; so do `n_round` moves each, or
      `no_deal_thres` moves in a row that make no offer.

    ## Bad input

    Each of these is an invalid move (recorded with its raw text, penalised by
    `invalid_move_penalty`, answered with what was wrong and what is expected, retried up to
    `max_retries` times, then the turn is forfeited as a move without an offer): a reply that speaks
    as the other side, the critic or the environment (a line "Buyer: ...", a tag "[env]"); an
    unreadable, negative, absurd or out-of-range price (offers must lie in `price_range`); an
    acceptance when the other side has made no offer; an acceptance naming another price than
    the standing offer; a reply that both accepts and walks away. An empty critique is invalid too.

    ## Action Space

    Free text (`PrintableText`).

    ## Observation Space

    `Dict` with:

    | key | range | meaning |
    |---|---|---|
    | `text` | `PrintableText(32000)` | instructions, then the last `history_window` messages this agent saw |
    | `games_played` | `[0, n_games]` | games finished so far |
    | `moves_left` | `[0, n_round]` | this agent's moves left in the current game (0 for the critic) |
    | `own_offer` | `[-1, price_max]` | this side's standing offer (-1: none) |
    | `rival_offer` | `[-1, price_max]` | the other side's standing offer (-1: none) |
    | `previous_price` | `[-1, price_max]` | the last game's deal price (-1: no deal or no game yet) |
    | `reservation` | `[-1, price_max]` | the seller's cost, the buyer's value (-1 for the critic) |
    | `last_reward` | `[-1e6, 1e6]` | this agent's reward from the last finished game |

    `price_max` is the largest of `price_range`'s upper end, `buyer_value`, `seller_init` and `cost_price`.

    ## Info

    - `turn`: moves made so far in the episode (players' moves and critiques, all games)
    - `messages`, `feedback`, `last_move`, `invalid_moves`: as in every environment (see `SolverFeedbackEnv`); `feedback` is the last coaching event as shown
    - `negotiation` (`seller_0`, `buyer_0`): the state as structured data for behaviour models (role, game, whether this side is coached, standing offers, moves made and left, openings, price range, past prices)
    - `request` (`critic_0`): when it is asked, the games to criticise
    - `episode`, `end_reason`: at the end, for every agent

    ## Rewards

    At the end of each game: the seller gets `price - cost_price`, the buyer `buyer_value - price`;
    without a deal both get `no_deal_reward`. The critic gets the coached side's reward. Invalid
    moves add `invalid_move_penalty` to the mover.

    ## Episode End

    Terminates after `n_games` games.

    ## Metrics (`info["episode"]`)

    Per game, lists of length `n_games` (so the runner's table has `deal_price@1` ... columns):

    - `deal_price`: the deal's price (None without a deal)
    - `deal`: 1 or 0
    - `price_change`: the price minus game 1's price, when both dealt (else None)
    - `turns`: moves after the openings
    - `coached_chars`: mean length of the coached side's replies
    - `price_if_all_deals`: the prices when every game dealt, else all None (the paper's statistic, which averages only series in which every round reached a deal)
    - `end_reasons`: how each game ended: `accepted`, `offers_met`, `walked_away`, `out_of_rounds` or `stalled`

    Scalars:

    - `deals`, `deal_rate`: games that dealt, and their share
    - `mean_price`: over the deals (None without any)
    - `seller_return`, `buyer_return`: the sides' game rewards over the episode (without invalid-move penalties)
    - `invalid_moves`: invalid moves of every agent
    - `impersonations`: replies that spoke as another participant or the environment
    - `coached`, `feedback_source`: the settings
    - `end_reason`: `games_played`

    ## Arguments

    | argument | default | meaning |
    |---|---|---|
    | `item` | `"balloon"` | what is sold (one line, up to 200 characters) |
    | `cost_price` | `8.0` | the seller's cost, 0-1000000 |
    | `seller_init`, `buyer_init` | `20.0`, `10.0` | the fixed opening prices, 0-1000000; with `fixed_openings` they must lie in `price_range`, `buyer_init <= seller_init` |
    | `buyer_value` | `None` (= `seller_init`) | what the item is worth to the buyer (its reward is value - price), 0-1000000 |
    | `who_first` | `"seller"` | the side that moves first after the openings, `seller` or `buyer` (`"buyer"`: the buyer has no opening offer, as the paper's `buyer_no_initial_price`) |
    | `fixed_openings` | `True` | post the paper's openings; False lets the sides open themselves |
    | `n_round` | `10` | moves per side per game, 1-10000 |
    | `n_games` | `5` | games per episode (the paper's rounds / `n_rollout`), 1-10000 |
    | `coached` | `"seller"` | the side the critic coaches, `seller` or `buyer` |
    | `feedback_source` | `"critic"` | `critic` (the `critic_0` agent), `human_pool` (`n_suggestions` of the paper's 10 human tips), `constant` (the paper's constant message), `none` |
    | `n_suggestions` | `3` | suggestions the critic is asked for / human tips sampled, 1-10 |
    | `critic_history` | `"full"` | the critic reads the coached side's whole history (`full`), or only the `last` game |
    | `rival_reset` | `True` | the rival forgets earlier games (its view is cleared at each game) |
    | `no_deal_thres` | `10` | moves in a row without an offer that end a game without a deal, 1-10000 |
    | `price_range` | `(10.0, 20.0)` | offers outside it are invalid, so deals lie in it; a pair `(low, high)` with 0 <= low < high <= 1000000 |
    | `price_tolerance` | `0.0` | offers this close count as meeting: from 0 to the width of `price_range` (10 by default) |
    | `no_deal_reward` | `0.0` | both sides' reward for a game without a deal, within +-1e6 |
    | `history_window`, `max_retries`, `invalid_move_penalty`, `render_mode` | `256`, `2`, `-0.1`, `None` | see `TurnBasedTextEnv`; `render_mode` None or `"ansi"` |

    The paper's LLM moderator (`moderator_trace_n_history`) has no counterpart: deals are decided
    by the rules above.

    ## Variants

    - `Negotiation-v0`: the defaults (Fu et al. 2023, the critic coaching the seller).
    - `Negotiation-Buyer-v0`: `coached="buyer"`.
    - `Negotiation-HumanTips-v0` (the paper's human-feedback baseline): `feedback_source="human_pool"`.

    ## Version History

    - v0: initial release.
    """

    metadata = {"name": "negotiation_v0", "render_modes": ["ansi"], "is_parallelizable": False}
    possible_agents = [SELLER, BUYER, CRITIC]
    # Counts stay in 0..n_games and 0..n_round, offers and prices in price_range (or are the openings, checked
    # to lie in it), reservations are price_max's terms, and rewards differences of prices within 1e6 of each
    # other or no_deal_reward (within +-1e6): observe needs no clipping guard (a test holds this). Subclasses
    # get the guard back (the base class resets the flag for any class that does not set it itself).
    numeric_within_bounds = True

    def __init__(
        self,
        item: str = "balloon",
        cost_price: float = 8.0,
        seller_init: float = 20.0,
        buyer_init: float = 10.0,
        buyer_value: float | None = None,
        who_first: str = "seller",
        fixed_openings: bool = True,
        n_round: int = 10,
        n_games: int = 5,
        coached: str = "seller",
        feedback_source: str = "critic",
        n_suggestions: int = 3,
        critic_history: str = "full",
        rival_reset: bool = True,
        no_deal_thres: int = 10,
        price_range: Sequence[float] = (10.0, 20.0),
        price_tolerance: float = 0.0,
        no_deal_reward: float = 0.0,
        history_window: int = 256,
        max_retries: int = 2,
        invalid_move_penalty: float = -0.1,
        render_mode: str | None = None,
    ) -> None:
        n_round = require_int("n_round", n_round, 1, MAX_TURNS)
        n_games = require_int("n_games", n_games, 1, MAX_TURNS)
        n_suggestions = require_int("n_suggestions", n_suggestions, 1, MAX_SUGGESTIONS)
        no_deal_thres = require_int("no_deal_thres", no_deal_thres, 1, MAX_TURNS)
        who_first = require_choice("who_first", who_first, tuple(AGENT_OF))
        coached = require_choice("coached", coached, tuple(AGENT_OF))
        feedback_source = require_choice("feedback_source", feedback_source, FEEDBACK_SOURCES)
        critic_history = require_choice("critic_history", critic_history, CRITIC_HISTORIES)
        item = require_text("item", item, max_chars=200)
        fixed_openings = require_bool("fixed_openings", fixed_openings)
        rival_reset = require_bool("rival_reset", rival_reset)
        range_ok = isinstance(price_range, Sequence) and not isinstance(price_range, str) and len(price_range) == 2
        if not range_ok:
            raise fail("price_range", "a pair (low, high) of finite prices with 0 <= low < high", price_range)
        low = require_float("price_range[0]", price_range[0], 0.0, MAX_PRICE)
        high = require_float("price_range[1]", price_range[1], 0.0, MAX_PRICE)
        if not low < high:
            raise fail("price_range", "a pair (low, high) of finite prices with 0 <= low < high", price_range)
        cost_price = require_float("cost_price", cost_price, 0.0, MAX_PRICE)
        seller_init = require_float("seller_init", seller_init, 0.0, MAX_PRICE)
        buyer_init = require_float("buyer_init", buyer_init, 0.0, MAX_PRICE)
        buyer_value = require_float("buyer_value", buyer_value, 0.0, MAX_PRICE, allow_none=True)
        # A tolerance as wide as the range would make every pair of offers a deal.
        price_tolerance = require_float("price_tolerance", price_tolerance, 0.0, high - low)
        no_deal_reward = require_float("no_deal_reward", no_deal_reward, -MAX_PRICE, MAX_PRICE)
        if fixed_openings and not (low <= buyer_init <= seller_init <= high):
            raise ArgumentError(
                f"the openings must lie in price_range with buyer_init <= seller_init, got buyer_init={buyer_init}, "
                f"seller_init={seller_init}, price_range={price_range!r}"
            )
        self.item = item
        self.cost_price = float(cost_price)
        self.seller_init = float(seller_init)
        self.buyer_init = float(buyer_init)
        self.buyer_value = float(self.seller_init if buyer_value is None else buyer_value)
        self.who_first = who_first
        self.fixed_openings = fixed_openings
        self.n_round = n_round
        self.n_games = n_games
        self.coached = coached
        self.feedback_source = feedback_source
        self.n_suggestions = n_suggestions
        self.critic_history = critic_history
        self.rival_reset = rival_reset
        self.no_deal_thres = no_deal_thres
        self.price_range = (low, high)
        self.price_tolerance = float(price_tolerance)
        self.no_deal_reward = float(no_deal_reward)
        # Anything above this is "absurd" rather than merely out of range: a clearer message for $1e9.
        self.absurd_above = 100.0 * max(high, self.buyer_value, self.seller_init, self.cost_price, 1.0)
        price_max = max(high, self.buyer_value, self.seller_init, self.cost_price)
        self.numeric_fields = {
            "games_played": (0, n_games),
            "moves_left": (0, n_round),
            "own_offer": (NO_VALUE, price_max),
            "rival_offer": (NO_VALUE, price_max),
            "previous_price": (NO_VALUE, price_max),
            "reservation": (NO_VALUE, price_max),
            "last_reward": (-1e6, 1e6),
        }
        super().__init__(
            history_window=history_window,
            message_view_chars=8000,
            observation_chars=32000,
            max_retries=max_retries,
            invalid_move_penalty=invalid_move_penalty,
            render_mode=render_mode,
        )

    # ------------------------------------------------------------------------------- episode
    @property
    def coached_agent(self) -> str:
        return AGENT_OF[self.coached]

    @property
    def rival_agent(self) -> str:
        return AGENT_OF["buyer" if self.coached == "seller" else "seller"]

    def _fields(self, **extra: object) -> dict[str, object]:
        return {**self._texts()["fields"], **extra}

    def _texts(self) -> dict[str, Any]:
        """The episode's fixed texts, filled from the item and prices (rebuilt only when one of them changed)."""
        key = (self.item, self.cost_price, self.seller_init, self.buyer_init, self.coached)
        texts = self.__dict__.get("_fixed_texts")
        if texts is not None and texts["key"] == key:
            return texts
        fields = {"item": self.item, "cost": money(self.cost_price), "seller_init": money(self.seller_init),
                  "buyer_init": money(self.buyer_init)}
        instructions = {}
        for side, agent in AGENT_OF.items():
            prompt = PROMPTS[side]
            instructions[agent] = "\n\n".join((prompt["system"], fill(prompt["instruction"], **fields), fill(RULES, other=OTHER_SIDE[side])))
        instructions[CRITIC] = fill(PROMPTS["critic"][f"system_{self.coached}"], **fields)
        texts = self.__dict__["_fixed_texts"] = {
            "key": key,
            "fields": fields,
            "instructions": instructions,
            "ask": fill(PROMPTS["buyer"]["ask"], **fields),
            "seller_opening": fill(PROMPTS["seller"]["opening"], **fields),
            "buyer_opening": fill(PROMPTS["buyer"]["opening"], **fields),
        }
        return texts

    def _start_episode(self, options: dict[str, Any]) -> None:
        self.games: list[Game] = []
        self._critic_request: dict[str, Any] | None = None
        self._episode_rewards = {agent: 0.0 for agent in self.possible_agents}
        self._last_game_reward = {agent: 0.0 for agent in self.possible_agents}
        # The messages the coached side saw, as the critic's transcript quotes them ("role: text"), and the
        # game of each, collected from the transcript up to _critic_scanned: each message is read once an episode.
        self._critic_lines: list[str] = []
        self._critic_line_games: list[int] = []
        self._critic_scanned = 0
        # Each player's info["negotiation"] as far as it stays the same within a game, copied and completed at
        # every step; made again when a game ends (see _extra_info).
        self._info_templates: dict[str, dict[str, Any]] = {}
        self._templated_games = -1  # the number of games played when the templates were made
        self._prices: list[float | None] = []  # the deal prices of the games played, as the templates were made
        for agent, text in self._texts()["instructions"].items():
            self.instruct(agent, text)
        self._start_game()

    def _start_game(self) -> None:
        index = len(self.games)
        self.game = Game(index)
        self.offers: dict[str, float | None] = {"seller": None, "buyer": None}
        self.moves_made = {"seller": 0, "buyer": 0}
        self.stalled_moves = 0
        if index > 0:
            for agent in (SELLER, BUYER):
                if agent == self.rival_agent and self.rival_reset:
                    self._forget(agent)  # the paper resets the rival's dialog history every round
                else:
                    self.post(ENV, f"Round {index + 1} of {self.n_games} begins.", (agent,), kind="notice")
        if self.fixed_openings:
            players = (SELLER, BUYER)
            texts = self._texts()
            self.post(BUYER, texts["ask"], players, kind="prompt", data={"opening": True})
            self.post(SELLER, texts["seller_opening"], players, kind="prompt", data={"opening": True, "offer": self.seller_init})
            self.offers["seller"] = self.seller_init
            if self.who_first == "seller":
                self.post(BUYER, texts["buyer_opening"], players, kind="prompt", data={"opening": True, "offer": self.buyer_init})
                self.offers["buyer"] = self.buyer_init
        self.agent_selection = AGENT_OF[self.who_first]

    def _forget(self, agent: str) -> None:
        """Clear ``agent``'s view (not the transcript): it starts the next game with no memory."""
        self.clear_view(agent)

    def voice_frames(self, agent: str) -> tuple[str, ...]:
        return _PLAYER_FRAMES if agent != CRITIC else _CRITIC_FRAMES

    # ---------------------------------------------------------------------------- negotiators
    def _play(self, agent: str, text: str) -> None:
        """The critic's move (see _critic_move) or a negotiator's, played here: no call between at every move."""
        if agent == CRITIC:
            self._critic_move(text)
            return
        side = SIDE_OF[agent]
        reading = read_reply(text, absurd_above=self.absurd_above)
        price, accepts, walks_away = reading.price, reading.accepts, reading.walks_away
        low, high = self.price_range
        # Only a reply that accepts, or whose price is unreadable or out of range, needs the full checks.
        if (reading.problem is not None or accepts or (price is not None and not low <= price <= high)) and not self._playable(agent, side, text, reading):
            return
        offers = self.offers
        standing = offers[OTHER_SIDE[side]]
        self.valid_move(agent, offer=price, accepts=accepts, walks_away=walks_away)
        self.turn += 1
        self.moves_made[side] += 1
        made_offer = price is not None and not accepts
        if made_offer:
            offers[side] = price
        self.stalled_moves = 0 if (made_offer or accepts) else self.stalled_moves + 1
        offer = price if made_offer else None
        self.game.moves.append({"side": side, "offer": offer, "accepts": accepts, "walks_away": walks_away, "valid": True,
                                "chars": len(text), "standing": offers.copy()})
        # Tagged with its game here, as post() tags every other message: a dict and a call less at every move.
        TurnBasedTextEnv.post(self, agent, text, _PLAYERS, data={"game": len(self.games), "offer": offer, "accepts": accepts, "walks_away": walks_away})
        if accepts:
            assert standing is not None
            self._finish_game(standing, "accepted", closed_by=side)
        elif walks_away:
            self._finish_game(None, "walked_away", closed_by=side)
        elif made_offer and standing is not None and (
            price <= standing + self.price_tolerance + 1e-9 if side == "seller" else price >= standing - self.price_tolerance - 1e-9
        ):  # the offers meet or cross
            self._finish_game(standing, "offers_met", closed_by=side)
        else:
            self._next_negotiator(side)

    def _playable(self, agent: str, side: str, text: str, reading: Reading) -> bool:
        """False (after answering the reply as an invalid move) when ``reading`` cannot be played."""
        other = OTHER_SIDE[side]
        low, high = self.price_range
        if reading.problem is not None:
            self.invalid_move(agent, text, f"could not read your offer: {reading.problem}", f"a price between ${money(low)} and ${money(high)}, written as $X")
            return False
        price = reading.price
        if price is not None and not low <= price <= high:
            self.invalid_move(agent, text, f"your offer ${money(price)} is out of range", f"an offer between ${money(low)} and ${money(high)}")
            return False
        if reading.accepts and reading.walks_away:
            self.invalid_move(agent, text, "the reply both accepts and walks away", "either 'I accept' or 'I walk away', not both")
            return False
        standing = self.offers[other]
        if reading.accepts:
            if standing is None:
                self.invalid_move(agent, text, f"nothing to accept: the {other} has made no offer yet", "an offer of your own, written as $X")
                return False
            if price is not None and abs(price - standing) > self.price_tolerance + 1e-9:
                self.invalid_move(
                    agent,
                    text,
                    f"the reply accepts at ${money(price)}, but the {other}'s standing offer is ${money(standing)}",
                    f"'I accept' to take ${money(standing)}, or ${money(price)} as a counter-offer without accepting",
                )
                return False
        return True

    def _next_negotiator(self, side: str) -> None:
        other = OTHER_SIDE[side]
        made, n_round = self.moves_made, self.n_round
        if made["seller"] >= n_round and made["buyer"] >= n_round:
            self._finish_game(None, "out_of_rounds")
        elif self.stalled_moves >= self.no_deal_thres:
            self._finish_game(None, "stalled")
        else:
            self.agent_selection = AGENT_OF[other] if made[other] < n_round else AGENT_OF[side]

    def _forfeit(self, agent: str, text: str) -> None:
        if agent == CRITIC:
            self._after_critique(None)
            return
        side = SIDE_OF[agent]
        self.turn += 1
        self.moves_made[side] += 1
        self.stalled_moves += 1
        self.game.moves.append({"side": side, "offer": None, "accepts": False, "walks_away": False, "valid": False,
                                "chars": len(text), "standing": self.offers.copy()})
        self._next_negotiator(side)

    # ---------------------------------------------------------------------------- game end
    def _finish_game(self, price: float | None, reason: str, closed_by: str | None = None) -> None:
        self.game.price = price
        self.game.reason = reason
        self.game.closed_by = closed_by
        self.games.append(self.game)
        if price is None:
            rewards = {SELLER: self.no_deal_reward, BUYER: self.no_deal_reward}
            notice = f"No deal ({reason.replace('_', ' ')})."
        else:
            rewards = {SELLER: price - self.cost_price, BUYER: self.buyer_value - price}
            notice = f"Deal at ${money(price)}."
        rewards[CRITIC] = rewards[self.coached_agent]
        for agent, reward in rewards.items():
            self.rewards[agent] += reward
            self._episode_rewards[agent] += reward
            self._last_game_reward[agent] = reward
        self.post(ENV, notice, (SELLER, BUYER), kind="notice", data={"price": price, "reason": reason})
        if len(self.games) >= self.n_games:
            self.end_episode("games_played")
        elif self.feedback_source == "critic":
            self._ask_critic()
        elif self.feedback_source == "human_pool":
            pool = HUMAN_TIPS[self.coached]
            picks = self.np_random.choice(len(pool), size=min(self.n_suggestions, len(pool)), replace=False)
            tips = [pool[int(i)].replace("balloon", self.item) for i in picks]
            self._coach("\n".join(f"{n}. {tip}" for n, tip in enumerate(tips, start=1)), ENV, FeedbackLevel.CRITIQUE)
            self._start_game()
        elif self.feedback_source == "constant":
            self._coach(CONSTANT_FEEDBACK, ENV, FeedbackLevel.UNARY)
            self._start_game()
        else:
            self._start_game()

    def _previous_price(self) -> float | None:
        return self.games[-1].price if self.games else None

    # ---------------------------------------------------------------------------- coaching
    def _ask_critic(self) -> None:
        games = self.games if self.critic_history == "full" else self.games[-1:]
        first_index = games[0].index
        coached = self.coached_agent  # read once: the loop runs over the transcript
        collected, games_of = self._critic_lines, self._critic_line_games
        transcript = self.transcript
        role_of = SIDE_OF.get
        for message in transcript[self._critic_scanned :]:  # only what was posted since the last request
            if coached in message.visible_to and message.kind in _CRITIC_READS:
                collected.append(f"{role_of(message.sender, 'critic')}: {message.text}")
                games_of.append(message.data.get("game", 0))
        self._critic_scanned = len(transcript)
        if first_index:  # a message without a game index counts as game 0
            quoted = "\n".join([line for line, game in zip(collected, games_of) if game >= first_index])
        else:
            quoted = "\n".join(collected)
        texts = self._texts()
        if "{" in quoted or "{" in self.item:
            # fill() replaces the fields in order, so braces in the transcript or the item can be filled too
            request = fill(PROMPTS["critic"][f"request_{self.coached}"], n_suggestions=number_word(self.n_suggestions),
                           transcript=quoted, **texts["fields"])
        else:
            key = ("critic_request", self.coached, self.n_suggestions)
            parts = texts.get(key)
            if parts is None:  # the request around the transcript, filled once
                template = fill(PROMPTS["critic"][f"request_{self.coached}"], n_suggestions=number_word(self.n_suggestions))
                parts = texts[key] = tuple(fill(part, **texts["fields"]) for part in template.split("{transcript}", 1))
            request = parts[0] + quoted + parts[1]
        self._critic_request = {"coached": self.coached, "n_suggestions": self.n_suggestions, "games": [g.summary() for g in games],
                                "price_range": list(self.price_range), "openings": {"seller": self.seller_init, "buyer": self.buyer_init}}
        self._forget(CRITIC)  # as in the paper, the critic keeps no memory between its calls
        self.post(ENV, request, (CRITIC,), kind="notice")
        self.agent_selection = CRITIC

    def _critic_move(self, text: str) -> None:
        if not text.strip():
            self.invalid_move(CRITIC, text, "empty feedback", f"{number_word(self.n_suggestions)} suggestions for the {self.coached}")
            return
        self.valid_move(CRITIC, chars=len(text))
        self.turn += 1
        self.post(CRITIC, text, (CRITIC,))
        self._after_critique(text)

    def _after_critique(self, text: str | None) -> None:
        self._critic_request = None
        if text is not None:
            self._coach(text.replace("\n\n", "\n"), CRITIC, FeedbackLevel.CRITIQUE)  # the paper's critic output cleanup
        self._start_game()

    def _coach(self, content: str, giver: str, level: FeedbackLevel) -> None:
        """Give the coached side feedback in the paper's message, with the price to beat."""
        side = self.coached
        prev = self._previous_price()
        template = PROMPTS[side]["feedback"]
        if prev is None:
            cut = template.index("Your goal is")
            template = template[:cut] + NO_PRICE_GOAL[side]
        text = fill(template, feedback=content, prev=money(prev) if prev is not None else "", **self._fields())
        event = FeedbackEvent(giver=giver, receiver=self.coached_agent, text=text, content=content, verdict=Verdict.UNKNOWN,
                              level=level, turn=self.turn)
        shown = self.deliver_feedback(event)
        if shown.text:
            acknowledgement = PROMPTS[side]["acknowledgement"]
            if prev is None:
                acknowledgement = acknowledgement[: acknowledgement.index(" And I will")]
            self.post(self.coached_agent, fill(acknowledgement, prev=money(prev) if prev is not None else ""), (self.coached_agent,),
                      kind="prompt", data={"acknowledgement": True})

    # --------------------------------------------------------------------------- views, metrics
    def post(self, sender: str, text: str, visible_to: Any, *, kind: str = "move", data: dict[str, Any] | None = None) -> Any:
        # Every message carries the index of its game, so a critic with critic_history="last" reads one game
        # (a negotiator's move is tagged where it is posted, in _play).
        tagged = {"game": len(self.games), **(data or {})}
        return TurnBasedTextEnv.post(self, sender, text, visible_to, kind=kind, data=tagged)  # super() without its proxy object

    @property
    def impersonations(self) -> int:
        """Replies this episode that spoke as another participant or the environment (all invalid moves)."""
        return sum(self.impersonation_attempts.values())

    def _numeric(self, agent: str) -> list[float]:
        # The values of every field, in the order of numeric_fields (games_played, moves_left, own_offer,
        # rival_offer, previous_price, reservation, last_reward): no dict to build at every step.
        games = self.games
        prev = NO_VALUE if not games or games[-1].price is None else games[-1].price
        side = SIDE_OF.get(agent)
        if side is None:
            return [float(len(games)), 0.0, NO_VALUE, NO_VALUE, prev, NO_VALUE, self._last_game_reward[agent]]
        offers = self.offers
        own, rival = offers[side], offers[OTHER_SIDE[side]]
        return [
            float(len(games)),
            float(self.n_round - self.moves_made[side]),
            NO_VALUE if own is None else own,
            NO_VALUE if rival is None else rival,
            prev,
            self.cost_price if side == "seller" else self.buyer_value,
            self._last_game_reward[agent],
        ]

    def _extra_info(self, agent: str) -> dict[str, Any]:
        if agent == CRITIC:
            return {"request": dict(self._critic_request)} if self._critic_request is not None else {}
        side = SIDE_OF[agent]
        if self._templated_games != len(self.games):
            self._make_info_templates()
        made = self.moves_made[side]
        offers = self.offers
        state = self._info_templates[agent].copy()  # every entry in its order; those of the move set below
        state["moves_made"] = made
        state["moves_left"] = self.n_round - made
        state["own_offer"] = offers[side]
        state["rival_offer"] = offers[OTHER_SIDE[side]]
        state["price_range"] = [*self.price_range]  # lists of their own: a reader may change them
        state["prices"] = self._prices.copy()
        return {"negotiation": state}

    def _make_info_templates(self) -> None:
        """Each player's info["negotiation"] with the entries that change only when a game ends."""
        games = self.games
        prices = self._prices = [g.price for g in games]
        for side, agent in AGENT_OF.items():
            self._info_templates[agent] = {
                "role": side,
                "game": len(games),
                "n_games": self.n_games,
                "coached": side == self.coached,
                "feedback_source": self.feedback_source,
                "n_round": self.n_round,
                "moves_made": 0,
                "moves_left": 0,
                "own_offer": None,
                "rival_offer": None,
                "seller_init": self.seller_init,
                "buyer_init": self.buyer_init,
                "price_range": None,
                "reservation": self.cost_price if side == "seller" else self.buyer_value,
                "previous_price": prices[-1] if prices else None,
                "prices": None,
            }
        self._templated_games = len(games)

    def _episode_metrics(self) -> dict[str, Any]:
        prices = [g.price for g in self.games]
        first = prices[0] if prices else None
        deals = [p for p in prices if p is not None]
        coached = self.coached

        def coached_chars(game: Game) -> float | None:
            lengths = [m["chars"] for m in game.moves if m["side"] == coached]
            return sum(lengths) / len(lengths) if lengths else None

        all_deals = bool(prices) and len(deals) == len(prices)
        return {
            "deal_price": prices,
            "deal": [float(p is not None) for p in prices],
            "price_change": [None if p is None or first is None else p - first for p in prices],
            "turns": [len(g.moves) for g in self.games],
            "coached_chars": [coached_chars(g) for g in self.games],
            "price_if_all_deals": prices if all_deals else [None] * len(prices),
            "deals": len(deals),
            "deal_rate": len(deals) / len(prices) if prices else 0.0,
            "mean_price": sum(deals) / len(deals) if deals else None,
            "seller_return": self._episode_rewards[SELLER],
            "buyer_return": self._episode_rewards[BUYER],
            "invalid_moves": sum(self.invalid_moves.values()),
            "impersonations": self.impersonations,
            "end_reasons": [g.reason for g in self.games],
            "coached": coached,
            "feedback_source": self.feedback_source,
        }
