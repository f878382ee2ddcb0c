"""The orchestrators: the report pipeline and the sweep pipeline, over the stages they import directly.

- ``report.py``: model -> per method compress -> simulate on each device -> verify -> ``PipelineResult``
  (``PipelineConfig``, ``run_pipeline``);
- ``sweep.py``: model -> per method compress once -> the analytic engine at every device point
  (``SweepConfig``, ``prepare_sweep``, ``run_sweep_config``, ``write_sweep_outputs``);
- ``generation.py``: a decoder-LLM config -> the LLM report (every method on every device) and the
  generation sweep (context / prefill / new_tokens with device keys, through the same cached, resumable
  point evaluation as ``sweep.py``);
- the seams both share: ``methods.py`` (resolve and compress methods), ``devices.py`` (load profiles,
  peaks, FPGA extras), ``verification.py`` (which input verification runs on, the worker pool) and
  ``steps.py`` (failure handling, model counts, materialization).

The public names are re-exported here, so ``from hwsim.pipeline import PipelineConfig, run_pipeline``
keeps working.
"""

from hwsim.pipeline.devices import DeviceInfo
from hwsim.pipeline.generation import (GenerationReportConfig, prepare_generation_sweep, run_generation_report,
                                       run_generation_sweep, write_generation_sweep_outputs)
from hwsim.pipeline.report import PipelineConfig, PipelineResult, run_pipeline, write_json
from hwsim.pipeline.steps import AUTO_MAX_PARAMS, summarize
from hwsim.pipeline.sweep import PreparedSweep, SweepConfig, SweepRun, prepare_sweep, run_sweep_config, write_sweep_outputs
from hwsim.pipeline.verification import (AUTO_REDUCED_MAX_PARAMS, REDUCED_SIDE, VerifyConfig, reduced_graph,
                                         verify_plan)

__all__ = [
    "AUTO_MAX_PARAMS", "AUTO_REDUCED_MAX_PARAMS", "REDUCED_SIDE", "DeviceInfo", "GenerationReportConfig",
    "PipelineConfig", "PipelineResult", "prepare_generation_sweep", "run_generation_report", "run_generation_sweep",
    "write_generation_sweep_outputs",
    "PreparedSweep", "SweepConfig", "SweepRun", "VerifyConfig", "prepare_sweep", "reduced_graph", "run_pipeline",
    "run_sweep_config", "summarize", "verify_plan", "write_json", "write_sweep_outputs",
]
