"""The Slurm executor: jobs run on a Slurm cluster, driven through its command-line tools.

Modules: ``_commands`` runs the tools as asyncio subprocesses, ``_parsing`` reads their output
and maps Slurm's states to outcomes, ``_script`` writes what sbatch gets, ``_poller`` follows all
jobs with one query per interval, ``_executor`` puts them together.
"""

from deepseek_server.executors.slurm._commands import SlurmCommands, SubmissionRefused
from deepseek_server.executors.slurm._executor import SlurmExecutor
from deepseek_server.executors.slurm._script import SubmitOptions, job_name

__all__ = ["SlurmCommands", "SlurmExecutor", "SubmissionRefused", "SubmitOptions", "job_name"]
