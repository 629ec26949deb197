"""Tasks: questions with gold answers and checkers, and the registered sources that supply them.

>>> import numpy as np
>>> source = make_task_source("hex_multiplication", digits=5)
>>> task = source.sample(np.random.default_rng(0))
>>> task.check(task.answer)
True
"""

from .arithmetic import ArithmeticTasks, MultiplicationTasks
from .base import Evidence, FrozenDict, ProceduralTaskSource, Task, TaskSource
from .jsonl import ANSWER_REGEX_PRESETS, JsonlTasks
from .knowledge import QUESTION_TYPES, KnowledgeBaseTasks
from .knowledge_world import Fact, KnowledgeBase
from .registration import (
    TASK_OPTION,
    TASK_SOURCES,
    TaskSourceArgumentError,
    episode_task,
    make_task_source,
    register_task_source,
    require_task_option,
    resolve_task_source,
    task_sources,
)

__all__ = [
    "ANSWER_REGEX_PRESETS",
    "QUESTION_TYPES",
    "TASK_OPTION",
    "TASK_SOURCES",
    "ArithmeticTasks",
    "Evidence",
    "Fact",
    "FrozenDict",
    "JsonlTasks",
    "KnowledgeBase",
    "KnowledgeBaseTasks",
    "MultiplicationTasks",
    "ProceduralTaskSource",
    "Task",
    "TaskSource",
    "TaskSourceArgumentError",
    "episode_task",
    "make_task_source",
    "register_task_source",
    "require_task_option",
    "resolve_task_source",
    "task_sources",
]
