"""A PettingZoo `ParallelEnv` over any simultaneous spec (header `simultaneous`).

Public surface: `ParallelEnv(spec, backend="python", max_turns=None)`, `JointCore` (the
small interface the adapter steps: one per backend, `python_core`, `jax_core`, `rust_core`).

    from envc.pettingzoo_parallel import ParallelEnv
    env = ParallelEnv("specs/pokemon_gen1.envspec", backend="rust")
    obs, infos = env.reset(seed=0)
    while env.agents:
        actions = {a: env.action_space(a).sample(mask=obs[a]["action_mask"]) for a in env.agents}
        obs, rewards, terminations, truncations, infos = env.step(actions)

- Agents are `player_0` .. `player_{P-1}`, all live until the game ends; then `agents`
  becomes empty (PettingZoo's convention for a finished parallel game).
- Each agent's observation is a dict, as in PettingZoo's classic environments:
  `"observation"` (the spec's `observe(p)`: only what that player may see) and
  `"action_mask"` (int8[NUM_ACTIONS], the legal actions of that player this turn). An
  illegal action ends the game with that player at -1 (the spec's rule); sample with the
  mask.
- One `step` is one turn of the spec (`step_joint`: every player's action at once, one
  resolution). `rewards[a]` is that turn's reward of agent a; `max_turns` (optional) cuts
  an episode after that many turns (`truncations` true), besides the spec's own
  `turn_limit`.
- Backends: `python` (the reference interpreter), `jax` (the generated module, one
  environment, jitted), `rust` (the generated crate, a batch of one). All three give the
  same trajectories for the same seed and actions.

The observation space is a `Box` shaped like the spec's observe type (an array of ints,
bools or float32); specs whose observation is a record or holds lists are refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

try:
    import gymnasium
    from pettingzoo.utils.env import ParallelEnv as _PZParallelEnv
except ImportError as err:  # pragma: no cover - exercised only without pettingzoo
    raise ImportError("envc.pettingzoo_parallel needs `pettingzoo` and `gymnasium`: "
                      "pip install pettingzoo gymnasium") from err

from envc.compiler import ir
from envc.compiler.interp import SpecRuntimeError


@dataclass
class JointCore:
    """One environment of a backend, stepped a turn at a time. `init(seed) -> state`,
    `step(state, actions) -> state`, `masks(state) -> bool[P, N]`, `observe(state) ->
    array[P, ...]`, `status(state) -> (rewards float32[P], terminated, truncated)`."""

    init: Callable[[int], Any]
    step: Callable[[Any, np.ndarray], Any]
    masks: Callable[[Any], np.ndarray]
    observe: Callable[[Any], np.ndarray]
    status: Callable[[Any], tuple[np.ndarray, bool, bool]]


def python_core(module: ir.Module) -> JointCore:
    """The reference interpreter as a `JointCore`."""
    from envc.compiler.interp import Interpreter

    it = Interpreter(module)
    dtype = _obs_dtype(module)
    return JointCore(
        init=it.init,
        step=lambda s, a: it.step_joint(s, [int(x) for x in a]),
        masks=lambda s: np.asarray(it.legal_action_masks(s), dtype=bool),
        observe=lambda s: np.asarray(it.observe_all(s), dtype=dtype),
        status=lambda s: (np.asarray(s.rewards, dtype=np.float32), bool(s.terminated), bool(s.truncated)),
    )


def jax_core(module: ir.Module) -> JointCore:
    """The generated JAX module (one environment, jitted) as a `JointCore`."""
    import jax
    import jax.numpy as jnp

    from envc.verify import load_jax

    env = load_jax(module)
    init, step = jax.jit(env.init_from_seed), jax.jit(env.step_joint)
    masks, observe = jax.jit(env.legal_action_masks), jax.jit(env.observe_all)
    fault_message = getattr(env, "fault_message", None)  # (generated only for a spec that can fault)

    def checked(state):
        """`state`, or the interpreter's `SpecRuntimeError` with its text when the step faulted (the
        JAX module records a fault in `State._fault` and plays on; the other cores raise)."""
        message = fault_message(state) if fault_message is not None else None
        if message is not None:
            raise SpecRuntimeError(message)
        return state

    return JointCore(
        init=lambda seed: checked(init(jnp.uint32(seed & 0xFFFFFFFF))),
        step=lambda s, a: checked(step(s, jnp.asarray(a, jnp.int32))),
        masks=lambda s: np.asarray(masks(s)),
        observe=lambda s: np.asarray(observe(s)),
        status=lambda s: (np.asarray(s.rewards), bool(s.terminated), bool(s.truncated)),
    )


def rust_core(module: ir.Module) -> JointCore:
    """The generated Rust crate (built with cargo on first use; a batch of one) as a `JointCore`."""
    from envc.verify import load_rust

    native = load_rust(module)
    env = native.VecEnv(1, threads=1, autoreset=False)

    def init(seed):
        env.reset_seeds(np.array([seed & 0xFFFFFFFF], dtype=np.uint32))
        return env

    def step(e, a):
        e.step_joint(np.asarray(a, dtype=np.int32).reshape(1, -1))
        return e

    return JointCore(
        init=init, step=step,
        masks=lambda e: np.array(e.legal_action_masks()[0]),
        observe=lambda e: np.stack([np.asarray(o) for o in e.observe_all(0)]),
        status=lambda e: (np.array(e.rewards[0]), bool(e.terminated[0]), bool(e.truncated[0])),
    )


_CORES = {"python": python_core, "jax": jax_core, "rust": rust_core}


class ParallelEnv(_PZParallelEnv):
    """A simultaneous spec as a PettingZoo `ParallelEnv` (see the module docstring).

    Args:
        spec: a path to a `.envspec` file, or a checked (lowered) module.
        backend: `python`, `jax` or `rust`.
        max_turns: cut episodes after this many turns (None: only the spec's rules end them).

    Raises:
        ValueError: the spec is not simultaneous, its observation is not an array of
            scalars, or the backend is unknown.
    """

    metadata = {"name": "envc_parallel_v0", "render_modes": [], "is_parallelizable": True}

    def __init__(self, spec: str | ir.Module, backend: str = "python", max_turns: int | None = None):
        if isinstance(spec, str):
            from envc.compiler.check import load

            spec = load(spec)
        if spec.simultaneous is None:
            raise ValueError(f"`{spec.name}` is not a simultaneous spec: a PettingZoo parallel env needs "
                             "every player to act each turn (use an AEC or Gymnasium adapter)")
        if backend not in _CORES:
            raise ValueError(f"unknown backend `{backend}`: use one of {', '.join(_CORES)}")
        self.module = spec
        self.core = _CORES[backend](spec)
        self.backend = backend
        self.max_turns = max_turns
        self.num_actions = _num_actions(spec)
        self.possible_agents = [f"player_{p}" for p in range(spec.num_players)]
        self.agents: list[str] = []
        self.metadata = dict(self.metadata, name=f"envc_{spec.name}_v0")
        self._obs_space = _observation_space(spec)
        # one space object per agent, built once (PettingZoo wants the same object each call;
        # an lru_cache on the methods would keep every env alive, ruff B019)
        self._observation_spaces = {a: gymnasium.spaces.Dict({
            "observation": self._obs_space,
            "action_mask": gymnasium.spaces.Box(0, 1, (self.num_actions,), np.int8),
        }) for a in self.possible_agents}
        self._action_spaces: dict[str, gymnasium.spaces.Discrete] = {
            a: gymnasium.spaces.Discrete(self.num_actions) for a in self.possible_agents}
        self._seed = 0
        self.state = None
        self.turns = 0

    def observation_space(self, agent: str) -> gymnasium.spaces.Space:
        """The observation space of `agent`: a Dict of `observation` and an int8 `action_mask`."""
        return self._observation_spaces[agent]

    def action_space(self, agent: str) -> gymnasium.spaces.Space:
        """The action space of `agent`: Discrete(num_actions)."""
        return self._action_spaces[agent]

    def _observations(self) -> dict[str, dict[str, np.ndarray]]:
        obs = self.core.observe(self.state)
        masks = self.core.masks(self.state).astype(np.int8)
        return {a: {"observation": obs[p], "action_mask": masks[p]} for p, a in enumerate(self.possible_agents)}

    def reset(self, seed: int | None = None, options: dict | None = None):
        """Start a game: from `seed`, else the next seed after the last game's. A game that `init`
        already ended has no live agents (`agents` is empty); each agent's info then says
        `ended_in_init` and holds its `rewards` from `init`."""
        self._seed = seed if seed is not None else self._seed + 1
        self.state = self.core.init(self._seed)
        self.turns = 0
        obs = self._observations()
        rewards, terminated, truncated = self.core.status(self.state)
        if terminated or truncated:  # `init` ended the game (a hunt: it looked live, its rewards lost)
            self.agents = []
            return obs, {a: {"ended_in_init": True, "rewards": float(rewards[p])}
                         for p, a in enumerate(self.possible_agents)}
        self.agents = list(self.possible_agents)
        return obs, {a: {} for a in self.agents}

    def step(self, actions: dict[str, int]):
        """Play one turn: every live agent's action at once (missing agents are refused)."""
        missing = [a for a in self.agents if a not in actions]
        if missing:
            raise ValueError(f"no action for {', '.join(missing)}: every player acts each turn")
        joint = np.array([int(actions[a]) for a in self.possible_agents], dtype=np.int32)
        self.state = self.core.step(self.state, joint)
        self.turns += 1
        rewards, terminated, truncated = self.core.status(self.state)
        truncated = truncated or (self.max_turns is not None and self.turns >= self.max_turns and not terminated)
        obs = self._observations()
        agents = self.possible_agents
        infos: dict[str, dict] = {a: {} for a in agents}
        out = (obs, {a: float(rewards[p]) for p, a in enumerate(agents)}, {a: terminated for a in agents},
               {a: truncated for a in agents}, infos)
        if terminated or truncated:
            self.agents = []
        return out


def _num_actions(module: ir.Module) -> int:
    from envc.compiler.actions import ActionSpace

    return ActionSpace(module).n


def _leaf(t: ir.Type) -> ir.Type:
    while isinstance(t, ir.ArrayT):
        t = t.elem
    return t


def _obs_dtype(module: ir.Module):
    leaf = _leaf(module.observe.type)
    if isinstance(leaf, (ir.BoolT, ir.FloatT, ir.IntT, ir.EnumT, ir.RowT)):
        return np.dtype(ir.storage_dtype(leaf))  # as every backend stores the observation
    raise ValueError(f"`{module.name}` observes `{module.observe.type}`: the PettingZoo adapter needs an array "
                     "of ints, bools or float32")


def _observation_space(module: ir.Module) -> gymnasium.spaces.Box:
    leaf = _leaf(module.observe.type)
    dtype = _obs_dtype(module)
    shape = ir.dims(module.observe.type)
    if isinstance(leaf, ir.BoolT):
        return gymnasium.spaces.Box(0, 1, shape, dtype)
    if isinstance(leaf, ir.FloatT):
        return gymnasium.spaces.Box(-np.inf, np.inf, shape, dtype)
    if isinstance(leaf, ir.IntT):
        return gymnasium.spaces.Box(leaf.lo, leaf.hi, shape, dtype)
    assert isinstance(leaf, (ir.EnumT, ir.RowT)), leaf  # `_obs_dtype` refused every other leaf
    hi = leaf.size - 1 if isinstance(leaf, ir.EnumT) else leaf.rows - 1
    return gymnasium.spaces.Box(0, hi, shape, dtype)
