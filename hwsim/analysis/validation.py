"""Hold hwsim's device models against published measurements (issue 10).

The records live in one data file (``data/validation_records.yaml``): each names its source table, and
each table has one role, ``fit`` (a profile parameter may be fitted to it; the profile line names the
record ids) or ``validate`` (never used to fit anything). ``run_validation`` simulates every record on
its board's profile and ``summarize`` gives the geometric-mean ratio (predicted / measured) and the
geometric-mean error factor exp(mean |ln ratio|) per device kind and overall, per role.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from hwsim.errors import HwsimError

RECORDS_PATH = Path(__file__).with_name("data") / "validation_records.yaml"
Role = Literal["fit", "validate"]


class ValidationDataError(HwsimError):
    """The validation records file is malformed or breaks its discipline."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BoardSetup(_Strict):
    profile: str
    overrides: dict[str, str] = Field(default_factory=dict)

    def device(self):  # type: ignore[no-untyped-def]
        """The profile with this setup's overrides; a FINN folding-config path is relative to the records'
        folder (``data/``)."""
        from hwsim.hardware import load_device

        overrides = dict(self.overrides)
        key = "fpga.model_params.folding_config"
        if overrides.get(key):
            overrides[key] = str(RECORDS_PATH.parent / overrides[key])
        return load_device(self.profile, overrides)


class SourceTable(_Strict):
    role: Role
    source: str
    engine: str
    scope: str


class Record(_Strict):
    id: str
    table: str
    board: str
    model: str
    method: str
    ms: float = Field(gt=0)
    row: str
    #: the input's height = width (None: the model file's own input, e.g. a non-image network)
    input_hw: int | None = 224
    #: decoder LLMs (model ``llm/<config>``): tokens already in the KV cache at the simulated decode step
    context: int | None = Field(default=None, ge=1)


#: what a power record's load is, in terms hwsim can predict from a profile (``predicted_power_w``)
PowerLoad = Literal["idle", "all_cores_busy", "host_busy", "accelerator_loop"]


class PowerRecord(_Strict):
    """A published power measurement: average watts under a load, at the board (wall) or the chip."""

    id: str
    table: str
    board: str
    load: PowerLoad
    watts: float = Field(gt=0)
    scope: Literal["board", "chip"] = "board"
    row: str


class EnergyRecord(_Strict):
    """A published energy per inference: the average watts while a network ran in a loop and the
    milliseconds per inference of the same loop (energy = W x ms), at the board or the chip."""

    id: str
    table: str
    board: str
    model: str
    method: str
    watts: float = Field(gt=0)
    ms: float = Field(gt=0)
    scope: Literal["board", "chip"] = "board"
    row: str
    input_hw: int | None = 224

    @property
    def mj(self) -> float:
        """Measured energy per inference (mJ)."""
        return self.watts * self.ms


class RecordsFile(_Strict):
    boards: dict[str, BoardSetup]
    tables: dict[str, SourceTable]
    records: list[Record]
    power_records: list[PowerRecord] = Field(default_factory=list)
    energy_records: list[EnergyRecord] = Field(default_factory=list)

    @model_validator(mode="after")
    def _consistent(self) -> RecordsFile:
        ids = [r.id for r in self.all_records()]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise ValueError(f"duplicate record ids: {dup}")
        for r in self.all_records():
            if r.table not in self.tables:
                raise ValueError(f"record {r.id}: unknown table {r.table!r}")
            if r.board not in self.boards:
                raise ValueError(f"record {r.id}: unknown board {r.board!r}")
        return self

    def all_records(self) -> list[Record | PowerRecord | EnergyRecord]:
        return [*self.records, *self.power_records, *self.energy_records]

    def role_of(self, record: Record | PowerRecord | EnergyRecord) -> Role:
        return self.tables[record.table].role


def load_records(path: Path = RECORDS_PATH) -> RecordsFile:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise ValidationDataError(f"{path}: cannot read: {e.strerror}") from None
    except yaml.YAMLError as e:
        raise ValidationDataError(f"{path}: not valid YAML: {e}") from None
    try:
        return RecordsFile.model_validate(doc)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ValidationDataError(f"{path}: {where}: {first['msg']}") from None


#: a profile line that says it was fitted names the record ids it came from in braces: {pi4.mnv1.fp32}
_CITED_ID = re.compile(r"\{([a-z0-9_.+-]+)\}")


def fitted_record_ids(devices_dir: Path) -> dict[str, list[str]]:
    """Record ids each device profile says a value was fitted to (lines containing 'fitted' and
    '{record-id}' citations), by profile file name."""
    out: dict[str, list[str]] = {}
    for path in sorted(devices_dir.glob("*.yaml")):
        for line in path.read_text(encoding="utf-8").splitlines():
            if "fitted" in line.lower():
                out.setdefault(path.name, []).extend(_CITED_ID.findall(line))
    return out


def tables_used_in_both_roles(records: RecordsFile, fitted_ids: Iterable[str],
                              fit_tables: Iterable[str]) -> dict[str, list[str]]:
    """Source tables whose rows serve both roles, with why (empty: the discipline holds).

    A table is used for validation when its declared role is ``validate`` (``hwsim validate`` and the
    golden test hold the profiles against it) and for fitting when its declared role is ``fit``, when a
    profile line cites one of its rows as fitted, or when ``bench/fit_profiles.py`` fits to it."""
    by_id = {r.id: r for r in records.all_records()}
    uses: dict[str, dict[str, list[str]]] = {}

    def use(table: str, role: str, why: str) -> None:
        uses.setdefault(table, {}).setdefault(role, []).append(why)

    for name, t in records.tables.items():
        use(name, t.role, f"declared {t.role}")
    for rid in fitted_ids:
        if rid not in by_id:
            use(f"<unknown record {rid}>", "fit", "cited as fitted")
            continue
        use(by_id[rid].table, "fit", f"row {rid} cited as fitted by a profile")
    for table in fit_tables:
        use(table, "fit", "fitted by bench/fit_profiles.py")
    return {t: sorted({w for ws in roles.values() for w in ws}) for t, roles in uses.items()
            if len(roles) > 1 or t.startswith("<unknown")}


@dataclass(frozen=True)
class Outcome:
    """One record simulated: predicted vs measured milliseconds."""

    record: Record
    role: Role
    kind: str
    profile: str
    predicted_ms: float

    @property
    def ratio(self) -> float:
        return self.predicted_ms / self.record.ms


@dataclass(frozen=True)
class Summary:
    """Geometric-mean ratio and error factor of a group of outcomes."""

    group: str
    n: int
    gmean_ratio: float
    error_factor: float
    within_1_5x: int


def summarize_group(group: str, outcomes: Iterable[Outcome]) -> Summary:
    logs = [math.log(o.ratio) for o in outcomes]
    if not logs:
        return Summary(group, 0, math.nan, math.nan, 0)
    n = len(logs)
    return Summary(group, n, math.exp(sum(logs) / n), math.exp(sum(abs(x) for x in logs) / n),
                   sum(abs(x) <= math.log(1.5) + 1e-12 for x in logs))


def summarize(outcomes: Iterable[Outcome], role: Role) -> list[Summary]:
    """Per device kind (sorted) and overall, for the outcomes of one role; no rows when the role has none."""
    mine = [o for o in outcomes if o.role == role]
    if not mine:
        return []
    kinds = sorted({o.kind for o in mine})
    rows = [summarize_group(k, [o for o in mine if o.kind == k]) for k in kinds]
    rows.append(summarize_group("overall", mine))
    return rows


@lru_cache(maxsize=None)
def _graph(workloads: Path, model: str, method: str, input_hw: int | None, context: int | None = None):  # type: ignore[no-untyped-def]
    from hwsim.compress import apply_method
    from hwsim.compress.catalogue import get_method
    from hwsim.frontends import load_model

    if context is not None:  # a decoder LLM config: one decode step with `context` tokens in the KV cache
        from hwsim.frontends.llm_config import decode_graph, load_llm_config

        path = workloads / f"{model}.yaml"
        g = decode_graph(load_llm_config(path), context, str(path))
        return g if method == "baseline" else apply_method(g, get_method(method)).graph
    g = load_model(workloads / f"{model}.json")
    if input_hw is not None and input_hw != 224:
        first = g.tensor(g.inputs[0])
        g = g.rebuild(inputs=[first.with_(shape=(*first.shape[:2], input_hw, input_hw))])
    return g if method == "baseline" else apply_method(g, get_method(method)).graph


def default_workloads_dir() -> Path:
    """The repository's ``workloads/`` (validation needs the standard model files of a source checkout)."""
    return Path(__file__).resolve().parents[2] / "workloads"


def run_validation(records: RecordsFile, *, roles: Iterable[Role] = ("fit", "validate"),
                   workloads: Path | None = None,
                   board_profiles: Mapping[str, BoardSetup] | None = None) -> list[Outcome]:
    """Simulate every record of the given roles on its board's profile (``board_profiles`` replaces the
    file's board -> profile map, e.g. to measure an older set of profiles)."""
    from hwsim.sim import simulate

    wanted = set(roles)
    wl = workloads or default_workloads_dir()
    boards = {**records.boards, **(board_profiles or {})}
    out: list[Outcome] = []
    for rec in records.records:
        role = records.role_of(rec)
        if role not in wanted:
            continue
        setup = boards[rec.board]
        dev = setup.device()
        r = simulate(_graph(wl, rec.model, rec.method, rec.input_hw, rec.context), dev, method=rec.method,
                     check_fit=False)
        out.append(Outcome(rec, role, dev.kind, setup.profile, r.seconds * 1e3))
    return out


@dataclass(frozen=True)
class PowerOutcome:
    """One power record against the profile's prediction (None: the profile cannot predict it, e.g. a
    chip-scope profile against a board measurement)."""

    record: PowerRecord
    role: Role
    kind: str
    profile: str
    predicted_w: float | None

    @property
    def ratio(self) -> float:
        return math.nan if self.predicted_w is None else self.predicted_w / self.record.watts


def predicted_power_w(device, load: PowerLoad, scope: str) -> float | None:  # type: ignore[no-untyped-def]
    """What the profile says the power is under ``load`` at ``scope`` (board or chip), or None.

    idle: the static power (it is the board's idle when the profile's power_scope is board), or, at board
    scope for a chip-scope profile, its ``board_idle_power``;
    all_cores_busy (CPU): static power + the core energy per busy core-cycle (``energy.instruction``) x
    cores x clock: every core issuing every cycle, as a stress load keeps them;
    host_busy (an accelerator's board, at board scope): its ``board_idle_power`` + ``host_power``, the board
    with the host core that drives the accelerator busy and the accelerator idle;
    accelerator_loop (at board scope): the board while its host loops some accelerator design hwsim does not
    model, that design's own power inside the figure: the ``board_idle_power`` of a profile whose baseline
    was measured so (it says so, with no ``host_power`` beside it; the PYNQ-Z2's)."""
    if load == "accelerator_loop":
        if scope != "board" or device.board_idle_power_w is None or device.host_power_w is not None:
            return None
        return device.board_idle_power_w
    if load == "host_busy":
        if scope != "board" or device.board_idle_power_w is None or device.host_power_w is None:
            return None
        return device.board_idle_power_w + device.host_power_w
    if (load == "idle" and scope == "board" and device.power_scope == "chip"
            and device.board_idle_power_w is not None):
        return device.board_idle_power_w
    if device.power_scope != scope:
        return None
    if load == "idle":
        return device.static_power_w
    if device.cpu is None or not device.energy.instruction_pj:
        return None
    return device.static_power_w + device.energy.instruction_pj * 1e-12 * device.cpu.cores * device.clock_hz


def run_power_validation(records: RecordsFile, *, roles: Iterable[Role] = ("fit", "validate")) -> list[PowerOutcome]:

    wanted = set(roles)
    out: list[PowerOutcome] = []
    for rec in records.power_records:
        role = records.role_of(rec)
        if role not in wanted:
            continue
        setup = records.boards[rec.board]
        dev = setup.device()
        out.append(PowerOutcome(rec, role, dev.kind, setup.profile, predicted_power_w(dev, rec.load, rec.scope)))
    return out


@dataclass(frozen=True)
class EnergyOutcome:
    """One energy record against the profile's prediction of the same inference: energy (mJ) at the
    record's scope (None: the profile cannot give that scope, e.g. a chip-scope profile with no
    board_idle_power against a board measurement) and latency (ms)."""

    record: EnergyRecord
    role: Role
    kind: str
    profile: str
    predicted_mj: float | None
    predicted_ms: float

    @property
    def ratio(self) -> float:
        return math.nan if self.predicted_mj is None else self.predicted_mj / self.record.mj

    @property
    def predicted_w(self) -> float | None:
        """Average power over the predicted inference (energy / latency)."""
        return None if self.predicted_mj is None else self.predicted_mj / self.predicted_ms


@dataclass(frozen=True)
class PowerWhileRunning:
    """An energy outcome seen as average power over the inference (predicted energy / predicted latency
    against the measured W): the energy model apart from the latency model."""

    outcome: EnergyOutcome

    @property
    def role(self) -> Role:
        return self.outcome.role

    @property
    def kind(self) -> str:
        return self.outcome.kind

    @property
    def ratio(self) -> float:
        w = self.outcome.predicted_w
        return math.nan if w is None else w / self.outcome.record.watts


def predicted_energy_mj(result, scope: str) -> float | None:  # type: ignore[no-untyped-def]
    """A simulation's energy per inference at ``scope``: the board's (``extra.board_energy_j``, when the
    profile can give it), or the chip's (only from a chip-scope profile)."""
    if scope == "board":
        board_j = result.extra.get("board_energy_j")
        return None if board_j is None else float(board_j) * 1e3
    if result.extra.get("energy_scope") != "chip":
        return None
    return sum(result.energy_pj.values()) / 1e9


def run_energy_validation(records: RecordsFile, *, roles: Iterable[Role] = ("fit", "validate"),
                          workloads: Path | None = None) -> list[EnergyOutcome]:
    """Simulate every energy record of the given roles on its board's profile: predicted energy per
    inference at the record's scope, beside the predicted latency (the energy includes it: board idle
    power x latency is most of a board's energy)."""
    from hwsim.sim import simulate

    wanted = set(roles)
    wl = workloads or default_workloads_dir()
    out: list[EnergyOutcome] = []
    for rec in records.energy_records:
        role = records.role_of(rec)
        if role not in wanted:
            continue
        setup = records.boards[rec.board]
        dev = setup.device()
        r = simulate(_graph(wl, rec.model, rec.method, rec.input_hw), dev, method=rec.method, check_fit=False)
        out.append(EnergyOutcome(rec, role, dev.kind, setup.profile, predicted_energy_mj(r, rec.scope),
                                 r.seconds * 1e3))
    return out


@dataclass(frozen=True)
class Uncertainty:
    """How far a device's latency predictions are from published measurements (``validate`` records
    only): the geometric-mean error factor, over this profile's own records when it has some, else over
    every record of its device kind (then ``own`` is False)."""

    error_factor: float
    gmean_ratio: float
    n: int
    own: bool
    kind: str

    def describe(self) -> str:
        whose = ("of this profile" if self.own
                 else f"of other {self.kind} profiles; this one has none of its own")
        return (f"latency ×/÷ {self.error_factor:.2f} (geometric-mean error over {self.n} published measurements "
                f"{whose}; never fitted; hwsim validate)")


@lru_cache(maxsize=None)
def _profile_kind(profile: str) -> str:
    from hwsim.hardware import load_device

    return load_device(profile).kind


@lru_cache(maxsize=None)
def _validate_records_by_profile() -> tuple[tuple[str, str, tuple[Record, ...]], ...]:
    """The validate records grouped by their board's profile: (profile, device kind, records)."""
    if not default_workloads_dir().is_dir():  # an installed wheel: no standard model files to simulate
        return ()
    records = load_records()
    by_profile: dict[str, list[Record]] = {}
    for r in records.records:
        if records.role_of(r) == "validate":
            by_profile.setdefault(records.boards[r.board].profile, []).append(r)
    return tuple((profile, _profile_kind(profile), tuple(recs)) for profile, recs in sorted(by_profile.items()))


@lru_cache(maxsize=None)
def _simulated(profile: str) -> tuple[Outcome, ...]:
    """The validate records of one profile, simulated (once per process)."""
    recs = next(r for p, _, r in _validate_records_by_profile() if p == profile)
    records = load_records()
    return tuple(run_validation(records.model_copy(update={"records": list(recs)}), roles=("validate",)))


def device_uncertainty(profile: str, kind: str) -> Uncertainty | None:
    """The validation error band of a shipped profile (None: no validate record for it or its kind, or
    no ``workloads/`` to run them: an installed wheel). Simulates only the records the band is made
    of: the profile's own validate records, else those of the profiles of its kind (each profile's
    records once per process)."""
    groups = _validate_records_by_profile()
    own = [p for p, _, _ in groups if p == profile]
    used = own or [p for p, k, _ in groups if k == kind]
    pool = [o for p in used for o in _simulated(p)]
    if not pool:
        return None
    s = summarize_group(kind, pool)
    return Uncertainty(s.error_factor, s.gmean_ratio, s.n, bool(own), kind)
