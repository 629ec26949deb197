"""Scripted behaviour models that reproduce the papers' dynamics offline."""

from feedbackgym.agents.scripted.random_agent import RandomAgent
from feedbackgym.agents.scripted.solver import FrictionSolver
from feedbackgym.agents.scripted.teacher import ScriptedTeacher

__all__ = ["FrictionSolver", "RandomAgent", "ScriptedTeacher"]
from feedbackgym.agents.scripted.negotiator import ConcessionNegotiator  # noqa: E402
from feedbackgym.agents.scripted.critic_coach import CriticCoach  # noqa: E402
# issue 5: judges, critics and the solvers they judge
from feedbackgym.agents.scripted.judge import IntentKnowledgeJudge, ScriptedModerator  # noqa: E402
from feedbackgym.agents.scripted.judged_solver import HonestPeer, SusceptibleSolver  # noqa: E402

__all__ += ["HonestPeer", "IntentKnowledgeJudge", "ScriptedModerator", "SusceptibleSolver"]
from feedbackgym.agents.scripted.critic import ScriptedActor, ScriptedCritic  # noqa: E402

__all__ += ["ScriptedActor", "ScriptedCritic"]
from feedbackgym.agents.scripted.preference import DistractibleJudge, ScriptedGenerator  # noqa: E402

__all__ += ["DistractibleJudge", "ScriptedGenerator"]
from feedbackgym.agents.scripted.user import AnnotatorPool, SimulatedUserAgent  # noqa: E402
from feedbackgym.agents.scripted.assistant import ScriptedAssistant  # noqa: E402
