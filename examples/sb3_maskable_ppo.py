"""sb3-contrib's MaskablePPO on the Rust target of a two-player spec, with no glue.

    python examples/sb3_maskable_ppo.py                      # connect4, 100k steps (bench/RESULTS.md)
    python examples/sb3_maskable_ppo.py --timesteps 4096 --eval-games 50    # CI size

The generated package registers a Gymnasium environment on import (`envc/<spec>-v0`, class
`GymEnv` of `python/envc_<spec>/gym.py`): for several players the agent plays seat 0 against
uniformly random legal moves (played inside `step`), and the legal actions come as an int8
mask from `action_masks()`, the method MaskablePPO looks for. So Stable-Baselines3's own
`make_vec_env(GYM_ID, n_envs=8)` and MaskablePPO take it as it is. The trained policy is then
played greedily against random play (win, draw and loss rates).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--spec", default=str(ROOT / "specs" / "connect4.envspec"), help="a two-player spec")
    ap.add_argument("--timesteps", type=int, default=100_000)
    ap.add_argument("--n-envs", type=int, default=8)
    ap.add_argument("--n-steps", type=int, default=256, help="MaskablePPO's rollout length per environment")
    ap.add_argument("--eval-games", type=int, default=500)
    ap.add_argument("--seed", type=int, default=0)
    cfg = ap.parse_args(argv)

    sys.path.insert(0, str(ROOT))
    import gymnasium
    import torch
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.env_util import make_vec_env

    from envc.compiler.check import load
    from envc.verify import load_rust

    torch.set_num_threads(1)
    module = load(cfg.spec)
    pkg = load_rust(module, progress=print)  # builds the crate once (cached), imports it: registers the env
    print(f"MaskablePPO on {pkg.GYM_ID} (Rust, {pkg.NUM_ACTIONS} actions), seat 0 vs random play; "
          f"{cfg.timesteps:,} steps, {cfg.n_envs} envs; load average {os.getloadavg()[0]:.2f}", flush=True)

    venv = make_vec_env(pkg.GYM_ID, n_envs=cfg.n_envs, seed=cfg.seed)
    model = MaskablePPO("MlpPolicy", venv, n_steps=cfg.n_steps, batch_size=256, learning_rate=3e-4,
                        gamma=0.99, ent_coef=0.01, seed=cfg.seed, verbose=0, device="cpu")
    start = time.perf_counter()
    model.learn(total_timesteps=cfg.timesteps)
    train_s = time.perf_counter() - start
    print(f"training: {model.num_timesteps:,} agent steps in {train_s:.1f} s = {model.num_timesteps / train_s:,.0f} "
          f"steps/s (SB3 on torch, CPU)", flush=True)

    env = gymnasium.make(pkg.GYM_ID)
    results = []
    for game in range(cfg.eval_games):
        obs, info = env.reset(seed=10_000 + game)
        done, total = False, 0.0
        while not done:
            action, _ = model.predict(obs, action_masks=info["action_mask"].astype(bool), deterministic=True)
            obs, reward, terminated, truncated, info = env.step(int(action))
            total += reward
            done = terminated or truncated
        results.append(np.sign(total))
    results = np.asarray(results)
    win, draw, loss = (results > 0).mean(), (results == 0).mean(), (results < 0).mean()
    print(f"greedy MaskablePPO (seat 0) vs random play, {cfg.eval_games} games: win {win:.3f}, draw {draw:.3f}, "
          f"loss {loss:.3f}")
    print(f"beats random play (win rate > loss rate): {'yes' if win > loss else 'no'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
