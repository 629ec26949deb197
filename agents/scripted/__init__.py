"""Scripted behaviour models that reproduce the papers' dynamics offline (importing registers them)."""

# solver and teacher (SolverFeedback-v0)
from feedbackgym.agents.scripted.random_agent import RandomAgent
from feedbackgym.agents.scripted.solver import FrictionSolver
from feedbackgym.agents.scripted.teacher import ScriptedTeacher

# negotiation and simulated users (Negotiation-v0, SimulatedUser-v0)
from feedbackgym.agents.scripted.assistant import ScriptedAssistant
from feedbackgym.agents.scripted.critic_coach import CriticCoach
from feedbackgym.agents.scripted.negotiator import ConcessionNegotiator
from feedbackgym.agents.scripted.user import AnnotatorPool, SimulatedUserAgent

# judges, critics and the solvers they judge (DeceptiveJudge-v0, Critic-v0, JudgeProtocol-v0)
from feedbackgym.agents.scripted.critic import ScriptedActor, ScriptedCritic
from feedbackgym.agents.scripted.judge import IntentKnowledgeJudge, ScriptedModerator
from feedbackgym.agents.scripted.judged_solver import HonestPeer, SusceptibleSolver
from feedbackgym.agents.scripted.preference import DistractibleJudge, ScriptedGenerator

__all__ = [
    "AnnotatorPool",
    "ConcessionNegotiator",
    "CriticCoach",
    "DistractibleJudge",
    "FrictionSolver",
    "HonestPeer",
    "IntentKnowledgeJudge",
    "RandomAgent",
    "ScriptedActor",
    "ScriptedAssistant",
    "ScriptedCritic",
    "ScriptedGenerator",
    "ScriptedModerator",
    "ScriptedTeacher",
    "SimulatedUserAgent",
    "SusceptibleSolver",
]
